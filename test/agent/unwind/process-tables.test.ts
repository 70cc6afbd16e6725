import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Libbpf } from '../../../src/agent/bpf/libbpf.js';
import { BpfProfiler } from '../../../src/agent/loader.js';
import { startUnwinding } from '../../../src/agent/unwind/index.js';
import { DOORBELL_IDLE_POLL_MS, IDLE_POLL_MS, PROC_PYTHON, PROC_TABLES, ProcessTables, readMappedBinary, type MappedBinary, type ProcessExtension } from '../../../src/agent/unwind/process-tables.js';
import { MAPPINGS_AT, NEED_TABLE, PROC_INFO_BYTES, PY_PART } from '../../../src/agent/unwind/proc-info.js';
import { oneStatReadEach, readStartTime, readStat } from '../../../src/agent/symbolize/proc-maps.js';
import { TableStore } from '../../../src/agent/unwind/table-store.js';
import { compileFixture } from '../proof-support.js';
import { requireBpf } from '../require-bpf.js';

const FD = { procs: 1, pidEvents: 2, tableRequests: 3 };
const EV_NEW = 1;
const EV_EXEC = 2;
const EV_EXIT = 4;
const ENOENT = 2;

/**
 * The BPF maps ProcessTables talks to, in memory: events and table requests queued by the test are
 * handed out by the next drain; `procs` keeps each pid's last written entry (flags, mapping count, and
 * per mapping its slice's first slot).
 */
class FakeMaps {
  /** Reports as the BPF program leaves them; `samples` 3 unless given (a busy process: loaded at once). */
  readonly events: [pid: number, events: number, samples?: number][] = [];
  readonly requests: [pid: number, start: number][] = [];
  readonly procs = new Map<number, Buffer>();

  lib(): Libbpf {
    const drain = (fd: number, keys: Buffer, values: Buffer, count: Buffer): number => {
      let n = 0;
      if (fd === FD.pidEvents) {
        for (const [pid, ev, samples = 3] of this.events.splice(0)) {
          keys.writeUInt32LE(pid, n * 4);
          values.writeUInt32LE(ev, n * 16);
          values.writeBigUInt64LE(BigInt(samples), n * 16 + 8);
          n++;
        }
      } else if (fd === FD.tableRequests) {
        for (const [pid, start] of this.requests.splice(0)) {
          keys.writeUInt32LE(pid, n * 16);
          keys.writeBigUInt64LE(BigInt(start), n * 16 + 8);
          n++;
        }
      }
      count.writeUInt32LE(n);
      return -ENOENT;
    };
    const fake: Partial<Libbpf> = {
      mapLookupAndDeleteBatch: (fd, _in, _out, keys, values, count) => drain(fd, keys, values, count),
      mapUpdateElem: (fd, key, value) => {
        if (fd === FD.procs) this.procs.set(key.readUInt32LE(0), Buffer.from(value));
        return 0;
      },
      mapDeleteElem: (fd, key) => {
        if (fd === FD.procs) this.procs.delete(key.readUInt32LE(0));
        return 0;
      },
    };
    return fake as Libbpf;
  }

  /** First slot of mapping `i` of the pid's entry (NEED_TABLE: not loaded yet). */
  first(pid: number, i: number): number | undefined {
    return this.procs.get(pid)?.readUInt32LE(MAPPINGS_AT + i * 32 + 24);
  }
}

/** A /proc of pids that look like this test process (same libm mapping), with chosen start times. */
class FakeProc {
  readonly root = mkdtempSync(path.join(tmpdir(), 'kiln-fake-proc-'));
  readonly libm: { readonly line: string; readonly start: number };
  private readonly uptimeS = 5000;

  constructor() {
    const line = readFileSync('/proc/self/maps', 'utf8')
      .split('\n')
      .find((l) => / r-xp .*\/libm\.so\.6$/.test(l));
    if (!line) throw new Error('this test needs the node process to map libm.so.6 (it does on Debian)');
    this.libm = { line, start: parseInt(line.split('-')[0]!, 16) };
    writeFileSync(path.join(this.root, 'uptime'), `${this.uptimeS.toFixed(2)} 0.00\n`);
  }

  /** A process started `ageMs` ago, mapping only libm (a library its walker asks a table for). */
  add(pid: number, ageMs: number): void {
    const dir = path.join(this.root, String(pid));
    mkdirSync(dir);
    const startTicks = Math.round(((this.uptimeS * 1000 - ageMs) / 1000) * 100);
    const fields = ['S', ...Array.from({ length: 18 }, () => '0'), String(startTicks), '0', '0'];
    writeFileSync(path.join(dir, 'stat'), `${pid} (fake) ${fields.join(' ')}\n`);
    writeFileSync(path.join(dir, 'maps'), `${this.libm.line}\n`);
    symlinkSync('/', path.join(dir, 'root'));
    symlinkSync('/usr/bin/true', path.join(dir, 'exe'));
  }

  remove(pid: number): void {
    rmSync(path.join(this.root, String(pid)), { recursive: true, force: true });
  }

  close(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}

function tablesOver(maps: FakeMaps, proc: FakeProc, onPoll?: (cpuSeconds: number, lateMs: number) => void, extensions?: ProcessExtension[]): ProcessTables {
  const lib = maps.lib();
  const rows = Buffer.alloc(8 << 20);
  const store = new TableStore(lib, 4, rows.length / 8, (offset, length) => ({ bytes: rows.subarray(offset, offset + length), unmap: () => {} }));
  return new ProcessTables(lib, FD, store, { procRoot: proc.root, onPoll, extensions });
}

let proc: FakeProc | undefined;
afterEach(() => {
  proc?.close();
  proc = undefined;
});

describe('ProcessTables: when new processes are loaded (a /proc and BPF maps in memory)', () => {
  it('loads a process already old enough in the poll that first sees it, and a young one once it is old enough', async () => {
    proc = new FakeProc();
    const maps = new FakeMaps();
    const tables = tablesOver(maps, proc);
    proc.add(100, 5000); // started 5 s ago (seen late, e.g. after an idle-paced poll)
    proc.add(101, 20); // started 20 ms ago
    maps.events.push([100, EV_NEW], [101, EV_NEW]);
    tables.poll();
    expect(maps.procs.has(100), 'the old process waits for no further poll').toBe(true);
    expect(maps.procs.has(101), 'a 20 ms old process is not loaded yet').toBe(false);
    await new Promise((r) => setTimeout(r, 250));
    tables.poll();
    expect(maps.procs.get(101)?.readUInt32LE(0), 'the young process, 200 ms later').toBe(PROC_TABLES);
  });

  it('on its own timer: loads a process reported between polls, reports how late each poll ran, and stops for good', async () => {
    proc = new FakeProc();
    const maps = new FakeMaps();
    const late: number[] = [];
    const tables = tablesOver(maps, proc, (_cpu, lateMs) => late.push(lateMs));
    const stop = tables.start(20);
    try {
      await new Promise((r) => setTimeout(r, 100));
      proc.add(104, 5000);
      maps.events.push([104, EV_NEW]);
      const by = Date.now() + IDLE_POLL_MS * 3;
      while (!maps.procs.has(104) && Date.now() < by) await new Promise((r) => setTimeout(r, 10));
      expect(maps.procs.get(104)?.readUInt32LE(0), 'loaded by the timer, within its idle pace').toBe(PROC_TABLES);
      expect(late.length).toBeGreaterThan(0);
      // Lateness is measured from when each poll was due: never negative beyond timer rounding, and here
      // (nothing blocking the loop) far below a poll period.
      for (const l of late) expect(l).toBeGreaterThan(-2);
      expect(Math.min(...late)).toBeLessThan(IDLE_POLL_MS);
    } finally {
      stop();
    }
    const polls = tables.stats().polls;
    await new Promise((r) => setTimeout(r, IDLE_POLL_MS * 2 + 100));
    expect(tables.stats().polls, 'no poll after stop()').toBe(polls);
  });

  it('loads a new process once sampled three times, in one look or across several', () => {
    proc = new FakeProc();
    const maps = new FakeMaps();
    const tables = tablesOver(maps, proc);
    proc.add(120, 5000);
    proc.add(121, 5000);
    maps.events.push([120, EV_NEW, 1], [121, EV_NEW, 2]);
    tables.poll();
    expect(maps.procs.has(120), 'sampled once: a shell one-liner, as far as the agent can tell').toBe(false);
    expect(maps.procs.has(121), 'sampled twice').toBe(false);
    expect(tables.stats().loads).toBe(0);
    tables.poll();
    expect(maps.procs.has(120), 'no poll loads it without a new sample').toBe(false);
    maps.events.push([120, EV_NEW, 1]);
    proc.remove(121);
    proc.add(121, 4000); // the pid reused by another process (another start time)
    maps.events.push([121, EV_NEW, 2]);
    tables.poll();
    expect(maps.procs.has(120), 'sampled twice in two looks').toBe(false);
    expect(maps.procs.has(121), 'a new process under a pid sampled before is not the same process').toBe(false);
    maps.events.push([120, EV_NEW, 1], [121, EV_NEW, 1]);
    tables.poll();
    expect(maps.procs.get(120)?.readUInt32LE(0), 'sampled a third time: loaded').toBe(PROC_TABLES);
    expect(maps.procs.get(121)?.readUInt32LE(0), 'the new process, at its third sample').toBe(PROC_TABLES);
  });

  it('keeps a process a slow poll had no time for, and loads it at the next poll without a new event', () => {
    proc = new FakeProc();
    const maps = new FakeMaps();
    const tables = tablesOver(maps, proc);
    proc.add(105, 5000);
    maps.events.push([105, EV_NEW]);
    tables.poll(0); // the poll's time budget spent before it reached the process (a burst of new processes)
    expect(maps.procs.has(105), 'not loaded by the poll that ran out of time').toBe(false);
    tables.poll();
    expect(maps.procs.get(105)?.readUInt32LE(0), 'loaded by the next poll, from the event the first one drained').toBe(PROC_TABLES);
  });

  it("dates a new process of the host's own /proc by its start time: young at first sight, loaded once 200 ms old", async () => {
    const maps = new FakeMaps();
    const lib = maps.lib();
    const rows = Buffer.alloc(8 << 20);
    const store = new TableStore(lib, 4, rows.length / 8, (offset, length) => ({ bytes: rows.subarray(offset, offset + length), unmap: () => {} }));
    const tables = new ProcessTables(lib, FD, store);
    const before = performance.now();
    const child = spawn('sleep', ['5'], { stdio: 'ignore' });
    try {
      await new Promise((r) => child.once('spawn', r));
      maps.events.push([child.pid!, EV_NEW]);
      tables.poll();
      // On a host too busy to poll within 150 ms of the spawn the first look cannot tell; the second still can.
      if (performance.now() - before < 150) expect(maps.procs.has(child.pid!), 'a process started just now waits for its 200 ms').toBe(false);
      await new Promise((r) => setTimeout(r, 300));
      tables.poll();
      expect(maps.procs.get(child.pid!)?.readUInt32LE(0), 'loaded once old enough').toBe(PROC_TABLES);
    } finally {
      child.kill();
    }
  });

  it('tells an extension of a process leaving only when the extension set the process up', () => {
    proc = new FakeProc();
    const maps = new FakeMaps();
    const detached: number[] = [];
    // An interpreter reader that recognises pid 107 only (as the CPython reader does its interpreters).
    const part = { flag: PROC_PYTHON, offset: PY_PART.offset, bytes: Buffer.alloc(PY_PART.bytes, 0xab) };
    const ext: ProcessExtension = { attach: (pid) => (pid === 107 ? part : undefined), detach: (pid) => void detached.push(pid) };
    const tables = tablesOver(maps, proc, undefined, [ext]);
    proc.add(106, 5000);
    proc.add(107, 5000);
    maps.events.push([106, EV_NEW], [107, EV_NEW]);
    tables.poll();
    expect(maps.procs.get(107)?.readUInt32LE(0)).toBe(PROC_TABLES | PROC_PYTHON);
    expect(maps.procs.get(107)?.subarray(PY_PART.offset, PY_PART.offset + PY_PART.bytes).every((b) => b === 0xab), 'its part, in the same entry').toBe(true);
    expect(maps.procs.get(106)?.subarray(PY_PART.offset, PY_PART.offset + PY_PART.bytes).every((b) => b === 0), 'no part where it was not set up').toBe(true);
    proc.remove(106);
    proc.remove(107);
    maps.events.push([106, EV_EXIT], [107, EV_EXIT]);
    tables.poll();
    expect([maps.procs.has(106), maps.procs.has(107)], 'both unloaded').toEqual([false, false]);
    expect(detached).toEqual([107]);
  });

  it('vouches for the start time of a loaded process until an exit or exec of it is drained, and again once an exit left it running', () => {
    proc = new FakeProc();
    const maps = new FakeMaps();
    const tables = tablesOver(maps, proc);
    proc.add(110, 5000);
    proc.add(111, 5000);
    const start = readStartTime(110, proc.root);
    expect(tables.liveStartTime(110), 'not loaded yet').toBeUndefined();
    maps.events.push([110, EV_NEW], [111, EV_NEW]);
    tables.poll();
    expect([tables.liveStartTime(110), tables.liveStartTime(111)]).toEqual([start, start]);
    // 110's main thread exits but its other threads run on (same start time); 111 exits and is gone.
    proc.remove(111);
    maps.events.push([110, EV_EXIT], [111, EV_EXIT]);
    tables.drainEvents();
    expect([tables.liveStartTime(110), tables.liveStartTime(111)], 'an exit heard of, not yet looked at').toEqual([undefined, undefined]);
    tables.poll();
    expect(tables.liveStartTime(110), 'still running: vouched for again').toBe(start);
    expect(tables.liveStartTime(111), 'gone: unloaded').toBeUndefined();
    maps.events.push([110, EV_EXEC]);
    tables.drainEvents();
    expect(tables.liveStartTime(110), 'a new program image').toBeUndefined();
  });

  it('forgets a process gone before it was old enough, with no load', () => {
    proc = new FakeProc();
    const maps = new FakeMaps();
    const tables = tablesOver(maps, proc);
    maps.events.push([102, EV_NEW]); // never in /proc: exited before the poll
    tables.poll();
    tables.poll();
    expect(maps.procs.has(102)).toBe(false);
    expect(tables.stats().loads).toBe(0);
  });

  it('loads a process dated while young with the stat read that dated it, and one gone by then with no labels', async () => {
    proc = new FakeProc();
    const maps = new FakeMaps();
    const lib = maps.lib();
    const rows = Buffer.alloc(8 << 20);
    const store = new TableStore(lib, 4, rows.length / 8, (offset, length) => ({ bytes: rows.subarray(offset, offset + length), unmap: () => {} }));
    // The agent's `wanted` labels the process, reading its stat within the poll's pass.
    const labelled: [number, string | undefined][] = [];
    const root = proc.root;
    const tables = new ProcessTables(lib, FD, store, {
      procRoot: root,
      wanted: (pid) => {
        labelled.push([pid, readStat(pid, root)?.comm]);
        return true;
      },
    });
    const poll = () => oneStatReadEach(() => tables.poll());
    proc.add(110, 20);
    proc.add(111, 20);
    maps.events.push([110, EV_NEW], [111, EV_NEW]);
    poll(); // dates both: 20 ms old, not due yet
    expect(tables.stats().loads).toBe(0);
    // Before they are due: 110 renames itself (a stat read now would say so), 111 exits.
    const stat = path.join(root, '110', 'stat');
    writeFileSync(stat, readFileSync(stat, 'utf8').replace('(fake)', '(renamed)'));
    proc.remove(111);
    await new Promise((r) => setTimeout(r, 250));
    poll();
    expect(maps.procs.get(110)?.readUInt32LE(0), 'the young process, once due').toBe(PROC_TABLES);
    expect(labelled, "labelled from the dating poll's stat read (no second read); the gone one not at all").toEqual([[110, 'fake']]);
    expect(maps.procs.has(111)).toBe(false);
    expect(tables.stats().loads).toBe(1);
  });

  it('builds a library table for a second process after the first process that showed the library has exited', () => {
    proc = new FakeProc();
    const maps = new FakeMaps();
    const tables = tablesOver(maps, proc);
    proc.add(100, 5000);
    maps.events.push([100, EV_NEW]);
    tables.poll();
    expect(maps.first(100, 0), 'libm waits for the walker to ask').toBe(NEED_TABLE);
    // The first process exits before any walker asks for libm; another process with the same libm asks.
    proc.remove(100);
    proc.add(103, 5000);
    maps.events.push([103, EV_NEW]);
    tables.poll();
    maps.requests.push([103, proc.libm.start]);
    tables.poll();
    const slice = maps.procs.get(103)!.readUInt32LE(MAPPINGS_AT + 28);
    expect(maps.first(103, 0), 'libm pointed at a table').not.toBe(NEED_TABLE);
    expect(slice, 'rows of libm in the table').toBeGreaterThan(100);
  });
});

describe('ProcessTables on real eBPF (root)', () => {
  const bpfs: BpfProfiler[] = [];
  afterEach(() => {
    for (const b of bpfs.splice(0)) b.close();
  });

  it('gives a busy -O2 -fomit-frame-pointer process its tables within 1 s of its start while the unwinder idles at its 10 s pace: the BPF program rings for it', { timeout: 60_000 }, async () => {
    requireBpf();
    const chain = compileFixture('chain.c', 'chain', ['-O2', '-fomit-frame-pointer']);
    const bpf = BpfProfiler.start({ frequencyHz: 99, stackMapSize: 1024, countsMapSize: 1024, unwind: true });
    bpfs.push(bpf);
    const ours = new Set<number>();
    const unwinding = startUnwinding(bpf, { wanted: (pid) => ours.has(pid) });
    const procs = bpf.mapFd('procs');
    const key = Buffer.alloc(4);
    const value = Buffer.alloc(PROC_INFO_BYTES);
    /** Whether the pid's entry is in with its executable's table (its first mapping here) pointed at. */
    const loaded = (pid: number) => {
      key.writeUInt32LE(pid);
      if (bpf.lib.mapLookupElem(procs, key, value) !== 0) return false;
      return (value.readUInt32LE(0) & PROC_TABLES) !== 0 && value.readUInt32LE(4) > 0 && value.readUInt32LE(MAPPINGS_AT + 24) !== NEED_TABLE;
    };
    try {
      // The 20 s C proof keeps ≥ 95 % of whole stacks only if the tables are in within 5 % of its run: 1 s.
      const waited: number[] = [];
      let idleStarts = 0;
      for (let round = 0; round < 3; round++) {
        const quietBy = Date.now() + 5000;
        while (unwinding.stats().nextPollMs !== DOORBELL_IDLE_POLL_MS && Date.now() < quietBy) await new Promise((r) => setTimeout(r, 20));
        if (unwinding.stats().nextPollMs === DOORBELL_IDLE_POLL_MS) idleStarts++;
        const child = spawn(chain, ['3'], { stdio: 'ignore' });
        const t0 = performance.now();
        ours.add(child.pid!);
        while (!loaded(child.pid!) && performance.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 5));
        waited.push(performance.now() - t0);
        child.kill();
      }
      const rings = unwinding.stats().doorbellRings;
      console.log(`process-tables: tables in after ${waited.map((w) => w.toFixed(0)).join(', ')} ms (${idleStarts} of 3 started while polling at the idle pace; ${rings} rings)`);
      expect(unwinding.stats().idlePollMs, 'the doorbell is set up, so the unwinder idles at its slow pace').toBe(DOORBELL_IDLE_POLL_MS);
      expect(idleStarts, 'rounds that began with the unwinder idle (nothing else of ours was pending)').toBeGreaterThanOrEqual(2);
      expect(rings, 'rings heard: at least one per round').toBeGreaterThanOrEqual(3);
      for (const w of waited) expect(w, `ms from the process's start to its tables (all: ${waited.map((x) => x.toFixed(0)).join(', ')})`).toBeLessThanOrEqual(1000);
    } finally {
      unwinding.stop();
    }
  });
});

describe('readMappedBinary', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kiln-mapped-binary-'));
  const file = path.join(dir, 'python3.11');
  writeFileSync(file, 'the binary');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const gone = path.join(dir, 'first-process-root', 'python3.11');
  const mapped = (mappingPath: string, openPath: string, deleted = false): MappedBinary => ({
    mapping: { start: 0x1000, end: 0x2000, offset: 0, fileId: '8:1 42', path: mappingPath, deleted },
    binary: { path: mappingPath, buildId: 'b1d', symbolsKey: 'b1d', openPath, loads: [] },
    bias: 0,
  });
  const readText = (f: string) => readFileSync(f, 'utf8');

  it('reads through the process being loaded when the first process to map the binary is gone', () => {
    expect(readMappedBinary(process.pid, mapped(file, gone), readText)).toEqual({ value: 'the binary' });
  });

  it('falls back to the recorded path, and says "unread" (not "lacks it") when neither opens', () => {
    expect(readMappedBinary(process.pid, mapped(gone, file), readText)).toEqual({ value: 'the binary' });
    expect(readMappedBinary(process.pid, mapped(gone, gone), readText)).toBeUndefined();
  });

  it('reads a file deleted since it was mapped only through its recorded path, not the new file at its name', () => {
    const replacement = path.join(dir, 'new-python3.11');
    writeFileSync(replacement, 'another binary');
    expect(readMappedBinary(process.pid, mapped(replacement, file, true), readText)).toEqual({ value: 'the binary' });
    expect(readMappedBinary(process.pid, mapped(replacement, gone, true), readText)).toBeUndefined();
  });
});
