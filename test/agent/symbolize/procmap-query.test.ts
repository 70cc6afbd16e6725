import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, copyFileSync, mkdtempSync, openSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readMaps, readMapsText } from '../../../src/agent/symbolize/proc-maps.js';
import { queryExecutableMappings } from '../../../src/agent/symbolize/procmap-query.js';

// PROCMAP_QUERY came with Linux 6.11: on older kernels readMaps reads the text.
const [major, minor] = (await import('node:os')).release().split('.').map(Number) as [number, number];
const hasQuery = major > 6 || (major === 6 && minor >= 11);

const children: ChildProcess[] = [];
const dir = mkdtempSync(path.join(tmpdir(), 'kiln-procmap-'));
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

async function started(file: string, args: string[]): Promise<number> {
  const c = spawn(file, args, { stdio: 'ignore' });
  children.push(c);
  await new Promise((r) => setTimeout(r, 300)); // its libraries mapped
  return c.pid!;
}

// On an older kernel the comparisons below still run (readMaps then reads the text itself).
describe('executable mappings by PROCMAP_QUERY', () => {
  it(hasQuery ? 'answers on this kernel, without falling back to the text' : 'is not asked on this kernel (before 6.11)', () => {
    const fd = openSync(`/proc/${process.pid}/maps`, 'r');
    try {
      if (hasQuery) expect(queryExecutableMappings(fd)?.length).toBeGreaterThan(3);
      else expect(queryExecutableMappings(fd)).toBeUndefined();
    } finally {
      closeSync(fd);
    }
  });

  it('gives what the text listing gives: this node process, CPython, a shell', async () => {
    const pids = [process.pid, await started('python3', ['-c', 'import time; time.sleep(60)']), await started('sh', ['-c', 'sleep 60; :'])];
    for (const pid of pids) {
      const text = readMapsText(pid);
      expect(text?.length).toBeGreaterThan(0);
      expect(readMaps(pid)).toEqual(text);
    }
  });

  it('marks a binary deleted after it was mapped, under its old path, as the text does', async () => {
    const copy = path.join(dir, 'sleep-copy');
    copyFileSync('/bin/sleep', copy);
    const pid = await started(copy, ['60']);
    unlinkSync(copy);
    const mapped = readMaps(pid)!.filter((m) => m.path === copy);
    expect(mapped.length).toBeGreaterThan(0);
    expect(mapped.every((m) => m.deleted && m.fileId !== '')).toBe(true);
    expect(readMaps(pid)).toEqual(readMapsText(pid));
  });

  it('answers undefined for a gone process', () => {
    expect(readMaps(2 ** 22 + 17)).toBeUndefined();
  });
});
