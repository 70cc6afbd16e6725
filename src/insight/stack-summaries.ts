import type { Id } from '../model/ids.js';
import { weightedStacks } from '../query/stacks.js';
import type { Store } from '../store/store.js';

/**
 * What the function metrics need of a stack, kept between evaluations: its leaf function and the
 * distinct functions on it (a recursive function once, as the top table counts total), as indexes into
 * one table of names. Stack ids are content hashes — a stack never changes meaning — and a steady
 * workload merges the same stacks window after window, so after the first window an evaluation
 * resolves only stacks it has not seen, and sums integers instead of walking frame strings.
 * Measured on 200 services (57 000 stacks): resolving every kept stack each window took ~800 ms and the
 * per-service top tables ~500 ms; with this cache both are a few tens of ms (docs/BENCHMARKS.md).
 */
export interface StackSummary {
  /** Index of the leaf function's name (the frame running when sampled). */
  readonly leaf: number;
  /** Indexes of every distinct function on the stack, leaf included. */
  readonly functions: Uint32Array;
}

/** Entries per generation; two generations are kept, so at most twice this many stacks are remembered. */
const GENERATION = 250_000;
/** Past this many distinct names the table is rebuilt from scratch rather than grow without end. */
const MAX_NAMES = 2_000_000;

export class StackSummaries {
  private names: string[] = [];
  private index = new Map<string, number>();
  private current = new Map<Id, StackSummary>();
  private previous = new Map<Id, StackSummary>();

  name(i: number): string {
    return this.names[i]!;
  }

  /** Summaries of `ids`, resolving through the store only those not remembered. */
  async summarize(store: Store, tenant: string, ids: Iterable<Id>, signal?: AbortSignal): Promise<Map<Id, StackSummary>> {
    // Before any lookup: a reset renumbers names, so it must not fall between a hit and its use.
    if (this.names.length > MAX_NAMES) this.reset();
    const out = new Map<Id, StackSummary>();
    const missing: Id[] = [];
    for (const id of ids) {
      const hit = this.current.get(id) ?? this.previous.get(id);
      if (hit) {
        out.set(id, hit);
        if (!this.current.has(id)) this.remember(id, hit);
      } else missing.push(id);
    }
    if (missing.length === 0) return out;
    const resolved = await store.resolveStacks(tenant, missing, signal);
    // The query layer's frames (inlined functions expanded, unsymbolized as binary+0xaddr), so a
    // function here is named exactly as in the flame graph and the top table.
    const rows = missing.map((stackId) => ({ stackId, value: 1 }));
    const stacks = weightedStacks(rows, resolved);
    for (let i = 0; i < rows.length; i++) {
      const frames = stacks[i]!.frames;
      const fns = new Set<number>();
      for (const f of frames) fns.add(this.intern(f.name));
      const summary: StackSummary = { leaf: frames.length > 0 ? this.intern(frames[frames.length - 1]!.name) : this.intern(''), functions: Uint32Array.from(fns) };
      out.set(rows[i]!.stackId, summary);
      // A stack the store could not resolve yet may resolve later: not remembered.
      if (resolved.stacks.has(rows[i]!.stackId)) this.remember(rows[i]!.stackId, summary);
    }
    return out;
  }

  private remember(id: Id, s: StackSummary): void {
    if (this.current.size >= GENERATION) {
      this.previous = this.current;
      this.current = new Map();
    }
    this.current.set(id, s);
  }

  private intern(name: string): number {
    let i = this.index.get(name);
    if (i === undefined) {
      i = this.names.push(name) - 1;
      this.index.set(name, i);
    }
    return i;
  }

  private reset(): void {
    this.names = [];
    this.index = new Map();
    this.current = new Map();
    this.previous = new Map();
  }
}
