import { InputError } from '../model/errors.js';
import type { WeightedStack } from './stacks.js';
import { userRegex } from './stacks.js';

/** One row of the top table. */
export interface TopEntry {
  readonly name: string;
  /** Value of samples where the function is the leaf (running itself). */
  readonly self: number;
  /** Value of samples with the function anywhere on the stack, each stack counted once. */
  readonly total: number;
}

export type TopSort = 'self' | 'total' | 'name';

export interface TopOptions {
  /** Sort key; self and total sort heaviest first, name alphabetically. Default self. */
  readonly sort?: TopSort;
  /** Rows to return (0 or unset = all). */
  readonly limit?: number;
  /** Keep only functions whose name matches this (unanchored) regex. */
  readonly filter?: string;
}

export interface TopTable {
  /** Sum of all samples of the selection (the denominator for percentages), whatever the filter. */
  readonly total: number;
  readonly entries: TopEntry[];
}

export function topTable(stacks: readonly WeightedStack[], opts: TopOptions = {}): TopTable {
  const filter = opts.filter ? userRegex(opts.filter, 'filter') : undefined;
  const index = new Map<string, number>();
  const names: string[] = [];
  const self: number[] = [];
  const total: number[] = [];
  // lastStack[i] = the last stack that counted function i: a recursive function counts once per stack.
  const lastStack: number[] = [];
  let sum = 0;
  for (let s = 0; s < stacks.length; s++) {
    const { frames, value } = stacks[s]!;
    sum += value;
    for (let i = 0; i < frames.length; i++) {
      const name = frames[i]!.name;
      let k = index.get(name);
      if (k === undefined) {
        k = names.push(name) - 1;
        index.set(name, k);
        self.push(0);
        total.push(0);
        lastStack.push(-1);
      }
      if (lastStack[k] !== s) {
        lastStack[k] = s;
        total[k] += value;
      }
      if (i === frames.length - 1) self[k] += value;
    }
  }
  let entries: TopEntry[] = [];
  for (let k = 0; k < names.length; k++) {
    if (filter && !filter.test(names[k]!)) continue;
    entries.push({ name: names[k]!, self: self[k]!, total: total[k]! });
  }
  entries.sort(comparator(opts.sort ?? 'self'));
  if (opts.limit && opts.limit > 0) entries = entries.slice(0, opts.limit);
  return { total: sum, entries };
}

function byName(a: TopEntry, b: TopEntry): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function comparator(sort: TopSort): (a: TopEntry, b: TopEntry) => number {
  switch (sort) {
    case 'name':
      return byName;
    case 'total':
      return (a, b) => b.total - a.total || b.self - a.self || byName(a, b);
    case 'self':
      return (a, b) => b.self - a.self || b.total - a.total || byName(a, b);
  }
}

export function parseTopSort(s: string): TopSort {
  if (s === 'self' || s === 'total' || s === 'name') return s;
  throw new InputError(`unknown sort "${s.slice(0, 40)}": use self, total or name`);
}
