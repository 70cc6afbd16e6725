import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingest } from '../server/helpers.js';
import type { KilnUnderTest } from './kiln.js';
import { metricValue, startKiln } from './kiln.js';
import type { Service } from './prometheus.js';
import { promQuery, startPrometheus, waitFor } from './prometheus.js';

/**
 * Proof 3 of issue 9: 10 000 distinct functions (1 000 services × 10, each under a shared `main`)
 * give at most `max_series` series on /metrics and in a real Prometheus scraping it, the heaviest kept,
 * and the cut counter says exactly how many were cut.
 *
 * Per service: 1 service series + top 10 by self (its 10 functions) + top 10 by total (main and its 9
 * heaviest functions) = 21 candidates, 21 000 in all; max_series 2 000 keeps 2 000 and cuts 19 000.
 */
const SERVICES = 1000;
const FUNCTIONS = 10;
const MAX_SERIES = 2000;
/** Folded samples of function j of service s: distinct weights so "heaviest" means something. */
const samples = (s: number, j: number) => (j + 1) * (s + 1);

let kiln: KilnUnderTest;
let prom: Service;

beforeAll(async () => {
  kiln = await startKiln(`metrics: { window: 10m, interval: 2s, delay: 0s, top_n: ${FUNCTIONS}, max_series: ${MAX_SERIES} }\n`);
  const from = Math.floor(Date.now() / 1000) - 30;
  let next = 0;
  // Bounded load: 1 000 requests, 16 at a time.
  const worker = async () => {
    while (next < SERVICES) {
      const s = next++;
      const body = Array.from({ length: FUNCTIONS }, (_, j) => `main;svc${s}_fn${j} ${samples(s, j)}`).join('\n');
      const res = await ingest(kiln.url, { name: `svc-${String(s).padStart(4, '0')}`, from: String(from), until: String(from + 10) }, body);
      if (res.status !== 200) throw new Error(`ingest of service ${s}: ${res.status} ${await res.text()}`);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  prom = await startPrometheus({ scrapeTarget: kiln.target });
}, 180_000);

afterAll(async () => {
  await prom?.stop();
  await kiln?.stop();
});

/** The function series the cap sees, with their values in samples (the unit cancels out in a ranking). */
function functionCandidates(): number[] {
  const out: number[] = [];
  for (let s = 0; s < SERVICES; s++) {
    let main = 0;
    const fns: number[] = [];
    for (let j = 0; j < FUNCTIONS; j++) {
      fns.push(samples(s, j));
      main += samples(s, j);
    }
    out.push(...fns); // self: every function is a leaf
    out.push(main, ...fns.sort((a, b) => b - a).slice(0, FUNCTIONS - 1)); // total: main and the 9 heaviest
  }
  return out.sort((a, b) => b - a);
}

describe('the series cap', () => {
  it('10 000 distinct functions: at most max_series series, the heaviest, and the cut counter says how many', async () => {
    const body = await waitFor('an evaluation that sees every service', 60_000, async () => {
      const text = await kiln.metrics();
      return metricValue(text, 'kiln_function_series_cut', {}) === 19_000 ? text : undefined;
    });
    const fnLines = body.split('\n').filter((l) => l.startsWith('kiln_function_cpu_cores{'));
    const serviceLines = body.split('\n').filter((l) => l.startsWith('kiln_service_cpu_cores{'));
    expect(fnLines.length + serviceLines.length).toBe(MAX_SERIES);
    expect(metricValue(body, 'kiln_function_series', {})).toBe(MAX_SERIES);
    // Every service keeps its total; the function series kept are the heaviest of the 20 000.
    expect(serviceLines.length).toBe(SERVICES);
    const kept = fnLines.map((l) => Number(l.slice(l.lastIndexOf(' ') + 1)));
    const all = functionCandidates();
    expect(all.length).toBe(20_000);
    const largestCut = all[MAX_SERIES - SERVICES]!;
    // Folded samples are stored as CPU time at 100 Hz: one sample = 10 ms; cores = seconds / 600 s.
    const toCores = (n: number) => (n * 0.01) / 600;
    for (const v of kept) expect(v).toBeGreaterThanOrEqual(toCores(largestCut) * (1 - 1e-9));
    expect(Math.max(...kept)).toBeCloseTo(toCores(all[0]!), 9);

    // A real Prometheus scraping Kiln holds the same numbers.
    const count = await waitFor('Prometheus to scrape the capped series', 30_000, async () => {
      const r = await promQuery(prom, 'count(kiln_function_cpu_cores) + count(kiln_service_cpu_cores)');
      return r.length > 0 ? Number(r[0]!.value[1]) : undefined;
    });
    expect(count).toBe(MAX_SERIES);
    expect(Number((await promQuery(prom, 'kiln_function_series_cut'))[0]!.value[1])).toBe(19_000);
    // The counter sums every evaluation's cut (those during the ingest cut fewer).
    expect(Number((await promQuery(prom, 'kiln_function_series_cut_total'))[0]!.value[1])).toBeGreaterThanOrEqual(19_000);
  }, 120_000);
});
