/** This process's CPU time so far (user + sys, all threads), in seconds: the agent's stage accounting. */
export function processCpuSeconds(): number {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1e6;
}
