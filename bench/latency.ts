/** p50/p95 of `runs` timed calls of `fn` after one untimed warm-up, in milliseconds (0.1 ms). */
export async function latency(fn: () => Promise<unknown>, runs: number): Promise<{ p50: number; p95: number }> {
  await fn();
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  const at = (p: number) => +ms[Math.min(ms.length - 1, Math.floor(p * ms.length))]!.toFixed(1);
  return { p50: at(0.5), p95: at(0.95) };
}

/** The long-range benches' ranges, in hours, up to `days`. */
export const longRanges = (days: number): number[] => [1, 24, 24 * 7, 24 * 30].filter((h) => h <= days * 24);
