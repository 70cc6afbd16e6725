import type { Profile, SymbolDictionary } from '../src/model/index.js';
import { CPU_TYPE, labelsFrom } from '../src/model/index.js';

/**
 * Realistic agent data for the store benchmarks: one service sampled at 19 Hz on 16 busy CPUs, one
 * profile every 10 s (3 040 raw samples each). Stacks come from a call tree (so they share prefixes,
 * as real ones do), 10–40 frames deep, and their popularity is Zipf-skewed: a few hot paths take most
 * samples, a long tail shows up now and then. Deterministic (seeded), so runs compare.
 */
export const HZ = 19;
export const CPUS = 16;
export const INTERVAL_MS = 10_000;
export const RAW_SAMPLES_PER_PROFILE = HZ * CPUS * (INTERVAL_MS / 1000);
export const PERIOD_NS = Math.round(1e9 / HZ);

/** The benchmark data ends at 06:00 UTC, so 24 h of it spans two day tables as real data does. */
export const BENCH_END_MS = Date.UTC(2026, 0, 20, 6);

export interface DataShape {
  readonly distinctStacks: number;
  readonly zipfExponent: number;
  /** Distinct function names the service's stacks are made of. */
  readonly functions: number;
  readonly seed: number;
  /**
   * How each profile's function names are made. 'flat' (the default): decoded from UTF-8 bytes with
   * `Buffer#toString('utf8', from, to)`, as the pprof and Kiln rows decoders hand them to the store
   * (flat strings of their own). 'sliced': `(' ' + name).slice(1)`, the bench's way before stop 25 —
   * V8 sliced strings, whose compares with the store's memo keys take V8's slow runtime path.
   */
  readonly names?: 'flat' | 'sliced';
}

export const DEFAULT_SHAPE: DataShape = { distinctStacks: 4000, zipfExponent: 1.1, functions: 5000, seed: 42 };

/** Small, fast, seeded PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The service's stack universe (frame names, root first) and a sampler for its popularity. */
export class ServiceModel {
  readonly stacks: string[][] = [];
  private readonly cdf: Float64Array;
  private readonly random: () => number;
  /** Every frame name's UTF-8 bytes and where each starts and ends ('flat' names are decoded from these). */
  private readonly nameBytes: Buffer;
  private readonly nameAt = new Map<string, { readonly from: number; readonly to: number }>();

  constructor(readonly shape: DataShape = DEFAULT_SHAPE) {
    this.random = rng(shape.seed);
    // A service has a few thousand functions; some (allocation, locking, syscalls) sit under many paths.
    const functions = Array.from({ length: shape.functions }, (_, i) => `pkg${i % 23}.Type${i % 151}.method${i}`);
    const fn = () => functions[Math.floor(Math.pow(this.random(), 2) * functions.length)]!;
    // Grow paths by extending earlier ones: shared prefixes, like a real call tree.
    const roots = [['runtime.main', 'main.main'], ['runtime.goexit', 'net/http.(*conn).serve'], ['runtime.mstart', 'runtime.schedule']];
    while (this.stacks.length < shape.distinctStacks) {
      const base = this.stacks.length > 0 && this.random() < 0.8 ? this.stacks[Math.floor(this.random() * this.stacks.length)]! : roots[Math.floor(this.random() * roots.length)]!;
      const depth = 10 + Math.floor(this.random() * 31);
      const keep = Math.min(base.length, Math.floor(depth * (0.5 + this.random() * 0.4)));
      const s = base.slice(0, keep);
      while (s.length < depth) s.push(fn());
      this.stacks.push(s);
    }
    const names = [...new Set(this.stacks.flat())];
    this.nameBytes = Buffer.from(names.join(''));
    let at = 0;
    for (const name of names) {
      const to = at + Buffer.byteLength(name);
      this.nameAt.set(name, { from: at, to });
      at = to;
    }
    const weights = this.stacks.map((_, rank) => 1 / Math.pow(rank + 1, shape.zipfExponent));
    const sum = weights.reduce((a, b) => a + b, 0);
    this.cdf = new Float64Array(weights.length);
    let acc = 0;
    weights.forEach((w, i) => {
      acc += w / sum;
      this.cdf[i] = acc;
    });
  }

  private freshName(name: string): string {
    if (this.shape.names === 'sliced') return (' ' + name).slice(1);
    const { from, to } = this.nameAt.get(name)!;
    return this.nameBytes.toString('utf8', from, to);
  }

  private pick(): number {
    const u = this.random();
    let lo = 0;
    let hi = this.cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * One profile of `intervalMs` (default 10 s) as the agent would push it: its own dictionary (only the frames it uses), one
   * row per distinct stack, values in nanoseconds (count × period). Frame names are fresh strings,
   * decoded from bytes as a decoder would hand them over (or sliced: `shape.names`), so the store
   * pays for hashing and comparing them like it would.
   */
  profile(
    timeMs: number,
    labels: Readonly<Record<string, string>> = { service_name: 'checkout', namespace: 'shop' },
    intervalMs = INTERVAL_MS,
  ): Profile {
    const counts = new Map<number, number>();
    const samples = Math.round(HZ * CPUS * (intervalMs / 1000));
    for (let i = 0; i < samples; i++) {
      const s = this.pick();
      counts.set(s, (counts.get(s) ?? 0) + 1);
    }
    const dict: SymbolDictionary = { mappings: [{ binary: '/app/checkout', buildId: 'b7c1d2e3f4a5' }], functions: [], locations: [], stacks: [] };
    const local = new Map<string, number>();
    const stacks: number[] = [];
    const values: number[] = [];
    for (const [s, n] of counts) {
      const frames = this.stacks[s]!;
      const locs: number[] = new Array(frames.length);
      for (let i = 0; i < frames.length; i++) {
        const name = frames[frames.length - 1 - i]!; // leaf first
        let loc = local.get(name);
        if (loc === undefined) {
          loc = dict.functions.push({ name: this.freshName(name), systemName: '', file: '' }) - 1;
          dict.locations.push({ mapping: 0, address: 0n, lines: [{ function: loc, line: 0 }] });
          local.set(name, loc);
        }
        locs[i] = loc;
      }
      stacks.push(dict.stacks.push(locs) - 1);
      values.push(n * PERIOD_NS);
    }
    return { type: CPU_TYPE, labels: labelsFrom(labels), timeMs, durationNs: intervalMs * 1e6, period: PERIOD_NS, dict, stacks, values };
  }
}

/** Profile start times for `hours` of data ending at `endMs`, oldest first. */
export function profileTimes(hours: number, endMs: number): number[] {
  const n = Math.round((hours * 3_600_000) / INTERVAL_MS);
  const start = endMs - n * INTERVAL_MS;
  return Array.from({ length: n }, (_, i) => start + i * INTERVAL_MS);
}
