/**
 * The KILN_PHASES debug build's timings (src/agent/bpf/phases.h), read from its `phases` map: by
 * bench/bpf-walk.ts around each run, and by `sudo npx tsx bench/bpf-phases.ts [after_s=0] [window_s=60]`
 * beside any other bench that runs a debug object (e.g. bench/agent-overhead.ts, the load): it
 * waits for the map to appear (a debug agent starting), then after_s, reads the map, waits window_s, reads it
 * again and prints the parts per sample between.
 * With one debug object loaded on the host: the map is looked up by name.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { HIST_SLOTS, histSummary } from './bpf-floor.js';

/**
 * The debug build's per-part totals (src/agent/bpf/phases.h: ns and counts summed over CPUs), or
 * undefined when the loaded object has no `phases` map (the committed one).
 */
export function phaseTotals(): number[] | undefined {
  let text: string;
  try {
    text = execFileSync('bpftool', ['-j', 'map', 'dump', 'name', 'phases'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  } catch {
    return undefined;
  }
  // With BTF, bpftool gives each entry's decoded form under `formatted`.
  const rows = JSON.parse(text) as { formatted: { key: number; values: { value: number }[] } }[];
  const out: number[] = [];
  for (const { formatted: f } of rows) out[f.key] = f.values.reduce((s, v) => s + Number(v.value), 0);
  return out;
}

/** The debug build's parts, per recorded sample (phases.h's indices). */
export function phaseLines(p: readonly number[]): string {
  const n = p[16] ?? 0;
  if (n === 0) return '';
  const us = (i: number) => ((p[i] ?? 0) / n / 1000).toFixed(2);
  const per = (i: number) => ((p[i] ?? 0) / n).toFixed(2);
  // User-mode samples whose key seen_keys did not hold (phases.h PH_SEEN; timed under the kernel stack until stop 34).
  const notSeen = n - (p[25] ?? 0) - (p[19] ?? 0);
  const each = (ns: number, c: number) => ((p[c] ?? 0) > 0 ? ((p[ns] ?? 0) / (p[c] ?? 1) / 1000).toFixed(2) : '-');
  return [
    `    phases (µs per recorded sample, ${n} samples): total ${us(0)}; prologue ${us(1)}; procs lookup ${us(7)} (+ reports of unloaded processes ${us(164)}: ${per(165)}× at ${each(164, 165)}); leaf mapping ${us(15)}; settings and parts ${us(2)}; python state ${us(3)} (${per(24)} a sample);`,
    `    walk ${us(4)} [${per(17)} frames: find_mapping ${us(11)} (${per(20)}× at ${each(11, 20)}), v8 frames ${us(29)} (${per(30)}× at ${each(29, 30)}; heap reads ${per(31)}× at ${each(163, 31)}, named ${per(162)}), find_row ${us(12)} (${per(21)}× at ${each(12, 21)}; row cache hits ${per(27)}, table reads ${per(28)}), reads ${us(13)} (${per(22)}× at ${each(13, 22)}), py_emit ${us(14)} (${per(23)}× at ${each(14, 23)})];`,
    `    whole samples one at a time (ktime): ${histSummary(p.slice(32, 32 + HIST_SLOTS))}`,
    `    hash ${us(5)}; count lookup ${us(6)} (seen ${per(25)}, hits ${per(18)}, inserts that found the key ${per(26)}); seen_keys lookups that missed ${us(166)} (${(notSeen / n).toFixed(2)}× at ${notSeen > 0 ? ((p[166] ?? 0) / notSeen / 1000).toFixed(2) : '-'}); kernel stack ${us(8)} (kernel-mode ${per(19)} at ${each(8, 19)}); store kernel ${us(9)}; add count ${us(10)}`,
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const after = Number(process.argv[2] ?? 0);
  const window = Number(process.argv[3] ?? 60);
  const sleep = (s: number) => new Promise((r) => setTimeout(r, s * 1000));
  // Waits (up to 10 min) for the debug object to be loaded, so that after_s counts from the agent's start.
  for (let i = 0; i < 600 && !phaseTotals(); i++) await sleep(1);
  await sleep(after);
  const p0 = phaseTotals();
  if (!p0) throw new Error('no `phases` map loaded: run a debug object (KILN_BPF_CFLAGS=-DKILN_PHASES npm run build:bpf)');
  const t0 = new Date().toISOString();
  await sleep(window);
  const p1 = phaseTotals();
  if (!p1) throw new Error('the `phases` map went away during the window (its agent stopped)');
  console.log(`phases ${t0} + ${window} s:\n${phaseLines(p1.map((v, i) => v - (p0[i] ?? 0)))}`);
}
