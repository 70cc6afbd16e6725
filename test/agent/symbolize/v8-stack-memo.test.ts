import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DictionaryBuilder } from '../../../src/model/index.js';
import { ProcSymbolizer, type InterpreterFrame } from '../../../src/agent/symbolize/symbolizer.js';

/** A V8 frame word as the BPF walker writes it: the tagged SharedFunctionInfo under bit 63. */
const v8Word = (sfi: number) => (1n << 63n) | BigInt(sfi);
const A = 0x2000_0001;
const B = 0x2000_1001;
const C = 0x2000_2001;

/** Function name of each frame of a dictionary stack, leaf first ('' when the frame has no name). */
function stackNames(b: DictionaryBuilder, stack: number): string[] {
  return b.dict.stacks[stack]!.map((loc) => {
    const line = b.dict.locations[loc]!.lines[0];
    return line ? b.dict.functions[line.function]!.name : '';
  });
}

describe('V8 frames in the stack memo', () => {
  it('keeps a stack holding V8 frames, re-checks each function once an interval, and re-resolves it when a function changed', () => {
    // The reader stand-in: the function at each address, asked through `frame` (counted).
    const heap = new Map<number, InterpreterFrame | undefined>([
      [A, { name: 'jsA', file: '/app/a.js', line: 3 }],
      [B, { name: 'jsB', file: '/app/b.js', line: 7 }],
      [C, { name: 'jsC', file: '/app/c.js', line: 9 }],
    ]);
    const asked: number[] = [];
    const sym = new ProcSymbolizer({ v8: { frame: (_pid, sfi) => (asked.push(sfi), heap.get(sfi)) } });
    const b = new DictionaryBuilder();
    const pid = process.pid; // a live process: its snapshot stands, its stacks are kept
    const sample = (sfis: number[], userStack: bigint) => ({ pid, kind: 'cpu' as const, comm: 'node', userAddrs: sfis.map(v8Word), kernelAddrs: [], userStack, count: 1 });
    const hits = () => sym.stats().stackHits;

    sym.observe(pid);
    const first = sym.stack(sample([A, B], 1n), b);
    expect(stackNames(b, first)).toEqual(['jsA', 'jsB']);
    expect(asked).toEqual([A, B]);
    // Met once, not kept yet (most such stacks never recur); met again, kept; then found whole.
    expect(sym.stack(sample([A, B], 1n), b)).toBe(first);
    expect(hits()).toBe(0);
    expect(sym.stack(sample([A, B], 1n), b)).toBe(first);
    expect(hits()).toBe(1);
    expect(asked).toHaveLength(2); // within the interval the V8 frames come from the frame memo
    const other = sym.stack(sample([A, C], 2n), b);
    expect(stackNames(b, other)).toEqual(['jsA', 'jsC']);
    expect(sym.stack(sample([A, C], 2n), b)).toBe(other);
    expect(asked).toEqual([A, B, C]);

    // Next interval, nothing moved: both stacks from the memo, each function asked for once though A is on both.
    sym.observe(pid);
    asked.length = 0;
    const frames = sym.stats().frames;
    expect(sym.stack(sample([A, B], 1n), b)).toBe(first);
    expect(sym.stack(sample([A, C], 2n), b)).toBe(other);
    expect(sym.stack(sample([A, B], 1n), b)).toBe(first);
    expect(hits()).toBe(4);
    expect(asked.sort()).toEqual([A, B, C]);
    expect(sym.stats().frames - frames).toBe(6);
    expect(sym.stats().v8Checks).toBe(3);

    // Next interval, B's object was moved and another function now sits at its address: the stack
    // holding it is resolved again and names the new function; the one without B stays kept.
    sym.observe(pid);
    heap.set(B, { name: 'jsMovedIn', file: '/app/d.js', line: 1 });
    const moved = sym.stack(sample([A, B], 1n), b);
    expect(moved).not.toBe(first);
    expect(stackNames(b, moved)).toEqual(['jsA', 'jsMovedIn']);
    expect(hits()).toBe(4);
    expect(sym.stats().v8StackMisses).toBe(1);
    expect(sym.stack(sample([A, C], 2n), b)).toBe(other);
    // Kept again as resolved: the rest of the interval finds it.
    expect(sym.stack(sample([A, B], 1n), b)).toBe(moved);
    expect(hits()).toBe(6);

    // Next interval, C's address no longer holds a function: no name there (its address kept), not jsC.
    sym.observe(pid);
    heap.set(C, undefined);
    const gone = sym.stack(sample([A, C], 2n), b);
    expect(stackNames(b, gone)).toEqual(['jsA', '']);
    expect(b.dict.locations[b.dict.stacks[gone]![1]!]!.address).toBe(BigInt(C));
    // A function read again with the same name, file and line keeps its stack (the same location).
    sym.observe(pid);
    heap.set(A, { name: 'jsA', file: '/app/a.js', line: 3 });
    expect(sym.stack(sample([A, B], 1n), b)).toBe(moved);
  });

  it('counts where V8 reads that name nothing come from: a first sighting, a process gone, a re-check that read another function', () => {
    const heap = new Map<number, InterpreterFrame | undefined>([[A, { name: 'jsA', file: '/app/a.js', line: 3 }]]);
    const sym = new ProcSymbolizer({ v8: { frame: (_pid, sfi) => heap.get(sfi) } });
    const b = new DictionaryBuilder();
    const pid = process.pid;
    sym.observe(pid);
    sym.symbolize(pid, [v8Word(A), v8Word(B)], [], b);
    expect(sym.stats()).toMatchObject({ v8UnnamedReads: 1, v8UnnamedAfterExit: 0, v8KeptChanged: 0 });
    sym.observe(pid);
    heap.set(A, undefined);
    sym.symbolize(pid, [v8Word(A)], [], b);
    expect(sym.stats()).toMatchObject({ v8UnnamedReads: 2, v8KeptChanged: 1 });
    // A pid that never existed (its start time unreadable): its frames resolve as after exit.
    sym.symbolize(2 ** 22 + 1, [v8Word(C)], [], b);
    expect(sym.stats()).toMatchObject({ v8UnnamedReads: 2, v8UnnamedAfterExit: 1 });
  });

  it('names a changed V8 function in a stack that also holds kernel frames (resolved frame by frame)', () => {
    const heap = new Map<number, InterpreterFrame | undefined>([[A, { name: 'before', file: '/app/a.js', line: 1 }]]);
    let asked = 0;
    const sym = new ProcSymbolizer({ v8: { frame: (_pid, sfi) => (asked++, heap.get(sfi)) }, kallsymsPath: '/dev/null' });
    const b = new DictionaryBuilder();
    const pid = process.pid;
    const name = () => stackNames(b, b.stack(sym.symbolize(pid, [v8Word(A), v8Word(A)], [], b)));
    sym.observe(pid);
    expect(name()).toEqual(['before', 'before']);
    expect(name()).toEqual(['before', 'before']);
    expect(asked).toBe(1); // once for both frames and both calls of the interval
    sym.observe(pid);
    heap.set(A, { name: 'after', file: '/app/a.js', line: 1 });
    expect(name()).toEqual(['after', 'after']);
    expect(asked).toBe(3); // the re-check, then the read of the function that replaced it
  });
});

describe('stacks with kernel frames in the stack memo', () => {
  it('keeps a stack whole with its kernel frames, apart for each kernel stack met with the same user stack, until kallsyms is read again', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'kiln-mixed-'));
    try {
      const kallsyms = path.join(dir, 'kallsyms');
      const modules = path.join(dir, 'modules');
      const table = 'ffffffff81000000 T _stext\nffffffff81001000 T do_syscall\nffffffff81002000 T ep_poll\nffffffff81003000 T schedule\nffffffff81004000 T _etext\n';
      writeFileSync(kallsyms, table);
      writeFileSync(modules, 'ext4 1 0 - Live 0x0\n');
      const heap = new Map<number, InterpreterFrame | undefined>([[A, { name: 'jsA', file: '/app/a.js', line: 3 }]]);
      const sym = new ProcSymbolizer({ kallsymsPath: kallsyms, modulesPath: modules, kallsymsReloadMs: 0, v8: { frame: (_pid, sfi) => heap.get(sfi) } });
      const b = new DictionaryBuilder();
      const pid = process.pid;
      const sample = (kernelAddrs: bigint[]) => ({ pid, kind: 'cpu' as const, comm: 'node', userAddrs: [v8Word(A), v8Word(A)], kernelAddrs, userStack: 11n, count: 1 });
      const polling = [0xffffffff81003010n, 0xffffffff81002010n, 0xffffffff81001010n];
      const syscall = [0xffffffff81001020n];
      const hits = () => sym.stats().stackHits;
      sym.observe(pid);
      const a = sym.stack(sample(polling), b);
      expect(stackNames(b, a)).toEqual(['schedule', 'ep_poll', 'do_syscall', 'jsA', 'jsA']);
      const s = sym.stack(sample(syscall), b);
      expect(stackNames(b, s)).toEqual(['do_syscall', 'jsA', 'jsA']);
      // The user stack met before (here with the other kernel stack): a stack is kept at its second sighting.
      expect(sym.stack(sample(polling), b)).toBe(a);
      expect(sym.stack(sample(syscall), b)).toBe(s);
      expect(hits()).toBe(1);
      sym.observe(pid);
      const before = { ...sym.stats() };
      expect(sym.stack(sample(polling), b)).toBe(a);
      expect(sym.stack(sample(syscall), b)).toBe(s);
      expect(hits()).toBe(2);
      expect(sym.stats().frames - before.frames).toBe(8); // kernel and user frames, counted in the hit rate
      expect(sym.stats().symbolized - before.symbolized).toBe(8);
      // Another kernel stack of the same length under the same user stack: its own frames, not a kept stack.
      const other = sym.stack(sample([0xffffffff81002020n]), b);
      expect(stackNames(b, other)).toEqual(['ep_poll', 'jsA', 'jsA']);
      expect(hits()).toBe(2);
      // A kernel frame without a name: such a stack is resolved each time (a module may load).
      const unknown = [0xffffffffc0001010n];
      sym.stack(sample(unknown), b);
      sym.stack(sample(unknown), b);
      expect(hits()).toBe(2);
      // A module loaded: kallsyms is read again (the unknown address), and kept stacks of the older read go.
      writeFileSync(kallsyms, `${table}ffffffffc0001000 t nf_hook\t[nf_tables]\n`);
      writeFileSync(modules, 'ext4 1 0 - Live 0x0\nnf_tables 1 0 - Live 0x0\n');
      expect(stackNames(b, sym.stack(sample(unknown), b))).toEqual(['nf_hook', 'jsA', 'jsA']);
      expect(sym.stats().kallsymsLoads).toBe(2);
      expect(sym.stack(sample(polling), b)).toBe(a); // the same names again, resolved afresh
      expect(hits()).toBe(2);
      expect(sym.stack(sample(polling), b)).toBe(a);
      expect(hits()).toBe(3);
      // A V8 function replaced: the kept kernel + user stack is resolved again with the new name.
      sym.observe(pid);
      heap.set(A, { name: 'jsB', file: '/app/a.js', line: 3 });
      expect(stackNames(b, sym.stack(sample(polling), b))).toEqual(['schedule', 'ep_poll', 'do_syscall', 'jsB', 'jsB']);
      expect(hits()).toBe(3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
