import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { forgetMaps, oneStatReadEach, readExe, readMapsShared, readProcText, readStartTime, readStat, takeMaps } from '../../../src/agent/symbolize/proc-maps.js';

/** A /proc look-alike: <root>/<pid>/stat with a given name and start time (field 22). */
function fakeProc(): { root: string; write(pid: number, comm: string, start: number): void } {
  const root = mkdtempSync(path.join(tmpdir(), 'kiln-proc-stat-'));
  return {
    root,
    write(pid, comm, start) {
      mkdirSync(path.join(root, String(pid)), { recursive: true });
      const fields = Array.from({ length: 50 }, (_, i) => (i === 18 ? String(start) : '0'));
      writeFileSync(path.join(root, String(pid), 'stat'), `${pid} (${comm}) S ${fields.join(' ')}\n`);
    },
  };
}

let root: string | undefined;
afterEach(() => {
  if (root) rmSync(root, { recursive: true, force: true });
  root = undefined;
});

describe('oneStatReadEach', () => {
  it('reads each process once inside, and again on every call outside', () => {
    const proc = fakeProc();
    root = proc.root;
    proc.write(42, 'python3', 1000);
    const seen = oneStatReadEach(() => {
      const first = readStat(42, proc.root);
      proc.write(42, 'sh', 2000); // the pid reused within the pass: the pass keeps what it read first
      return [first, readStat(42, proc.root), readStartTime(42, proc.root)];
    });
    expect(seen).toEqual([{ comm: 'python3', startTime: '1000' }, { comm: 'python3', startTime: '1000' }, '1000']);
    // The next pass (the next interval or poll) reads the file again.
    expect(readStat(42, proc.root)).toEqual({ comm: 'sh', startTime: '2000' });
    expect(oneStatReadEach(() => readStartTime(42, proc.root))).toBe('2000');
  });

  it('remembers a gone process as gone within the pass only, and nests without resetting', () => {
    const proc = fakeProc();
    root = proc.root;
    const inner = oneStatReadEach(() => {
      expect(readStat(7, proc.root)).toBeUndefined();
      proc.write(7, 'late', 5);
      return oneStatReadEach(() => readStat(7, proc.root));
    });
    expect(inner, 'a nested pass shares the outer one').toBeUndefined();
    expect(readStat(7, proc.root)).toEqual({ comm: 'late', startTime: '5' });
  });

  it('takes a vouched start time without reading, only inside the pass, and reads the processes not vouched for', () => {
    const proc = fakeProc();
    root = proc.root;
    proc.write(12, 'sh', 300); // what /proc says now: another process under pid 12
    proc.write(13, 'sleep', 400);
    const vouch = (pid: number) => (pid === 12 ? '200' : undefined);
    const seen = oneStatReadEach(() => [readStartTime(12, proc.root), readStartTime(13, proc.root), readStat(12, proc.root)?.startTime], vouch);
    expect(seen, 'vouched: no read; not vouched: read; readStat always reads').toEqual(['200', '400', '300']);
    expect(readStartTime(12, proc.root), 'outside the pass nothing is vouched for').toBe('300');
  });

  it('gives the result of the function, and forgets what it read when the function throws', () => {
    const proc = fakeProc();
    root = proc.root;
    proc.write(9, 'a', 1);
    expect(() =>
      oneStatReadEach(() => {
        readStat(9, proc.root);
        throw new Error('boom');
      }),
    ).toThrow('boom');
    proc.write(9, 'b', 2);
    expect(oneStatReadEach(() => readStat(9, proc.root)?.comm)).toBe('b');
  });
});

describe('reads shared between the agent’s readers of /proc', () => {
  it('hands a listing of maps to one taker, for the same process (start time) only, until its exec, and not past the age asked', async () => {
    const proc = fakeProc();
    root = proc.root;
    proc.write(11, 'python3', 700);
    writeFileSync(path.join(proc.root, '11', 'maps'), '7f0000000000-7f0000001000 r-xp 00000000 08:01 42  /usr/bin/python3.11\n');
    const maps = readMapsShared(11, '700', proc.root);
    expect(maps?.map((m) => m.path)).toEqual(['/usr/bin/python3.11']);
    expect(takeMaps(11, '700', 60_000, proc.root)?.mappings).toBe(maps);
    expect(takeMaps(11, '700', 60_000, proc.root), 'taken already').toBeUndefined();
    readMapsShared(11, '700', proc.root);
    expect(takeMaps(11, '701', 60_000, proc.root), 'another process under the same pid').toBeUndefined();
    readMapsShared(11, '700', proc.root);
    await new Promise((r) => setTimeout(r, 20));
    expect(takeMaps(11, '700', 5, proc.root), 'older than asked').toBeUndefined();
    readMapsShared(11, '700', proc.root);
    forgetMaps(11, proc.root);
    expect(takeMaps(11, '700', 60_000, proc.root), 'after exec').toBeUndefined();
    expect(readMapsShared(12, '1', proc.root), 'no such process').toBeUndefined();
  });

  it('reads the exe link once per pass, and reads a file produced whole (oneShow) in full however long', () => {
    const proc = fakeProc();
    root = proc.root;
    proc.write(13, 'sh', 1);
    symlinkSync('/usr/bin/dash', path.join(proc.root, '13', 'exe'));
    const seen = oneStatReadEach(() => {
      const first = readExe(13, proc.root);
      rmSync(path.join(proc.root, '13', 'exe'));
      return [first, readExe(13, proc.root)];
    });
    expect(seen).toEqual(['/usr/bin/dash', '/usr/bin/dash']);
    expect(readExe(13, proc.root), 'outside a pass: read again (now gone)').toBe('');
    const long = `${'x'.repeat(50_000)}\n`;
    writeFileSync(path.join(proc.root, 'long'), long);
    expect(readProcText(path.join(proc.root, 'long'), true)).toBe(long);
    expect(readProcText('/proc/self/stat', true)).toMatch(new RegExp(`^${process.pid} \\(.*\\) [A-Z] .*\\n$`));
  });
});
