/** What `/targets` answers (Prometheus' shape), as far as the scrape tests read it. */
export interface ActiveTarget {
  job: string; instance: string; profile: string; url: string; health: string; lastError: string; lastScrape: string; samplesStored: number;
  labels: Record<string, string>; discoveredLabels: Record<string, string>;
}
export interface TargetsAnswer {
  activeTargets: ActiveTarget[];
  droppedTargets: { job: string; discoveredLabels: Record<string, string> }[];
}

export async function fetchTargets(serverUrl: string): Promise<TargetsAnswer> {
  return (await (await fetch(`${serverUrl}/targets`)).json()) as TargetsAnswer;
}

/**
 * Polls until the probe gives a value; on timeout the error shows /targets, which says why (a target
 * down and its last error, or not scraped yet). Generous by default: on a loaded machine a CPU profile
 * of the target and the scrape after it take a while.
 */
export async function untilScraped<T>(serverUrl: string, what: string, probe: () => Promise<T | undefined>, ms = 90_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(await fetchTargets(serverUrl))}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
