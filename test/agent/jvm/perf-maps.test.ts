import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { catchesSigquit, isHotSpot, mapsHotSpot, type KnownProcess } from '../../../src/agent/jvm/detect.js';
import { readMaps, readStartTime, type CodeMapping } from '../../../src/agent/symbolize/proc-maps.js';
import { JvmPerfMaps } from '../../../src/agent/jvm/perf-maps.js';
import { compileJavaBurner, javaMajorVersion, killStarted, startChild, until } from './java-fixture.js';

afterEach(killStarted);

describe('JvmPerfMaps: JIT symbol maps requested on unnamed JIT code (a real OpenJDK)', () => {
  it('writes a JVM\'s map on the first miss, later just before the next interval is read, at most once per doubling period', { timeout: 60_000 }, async () => {
    expect(javaMajorVersion(), 'Compiler.perfmap needs JDK 17+: apt-get install openjdk-17-jdk-headless').toBeGreaterThanOrEqual(17);
    const java = startChild('java', ['-cp', compileJavaBurner(), 'Main', '30']);
    const pid = java.pid!;
    await until('a started JVM', () => isHotSpot(pid) && catchesSigquit(pid));
    const map = `/proc/${pid}/root/tmp/perf-${pid}.map`;
    rmSync(map, { force: true });
    const logged: string[] = [];
    const maps = new JvmPerfMaps({ minIntervalMs: 1000, log: (l) => logged.push(l) });

    maps.unnamed(pid);
    await until('the first map', () => maps.stats().jvmMapsWritten === 1);
    expect(existsSync(map)).toBe(true);
    expect(maps.stats().jvmProcesses).toBe(1);
    // Later misses wait for the end of the interval: no request until the agent says when that is …
    for (let i = 0; i < 50; i++) maps.unnamed(pid);
    await new Promise((r) => setTimeout(r, 1200));
    expect(maps.stats().jvmMapsWritten).toBe(1);
    // … then one, shortly before the next interval is read (here in 1 s; lead 300 ms).
    let t0 = Date.now();
    maps.intervalEnds(t0 + 1000);
    await until('the second map', () => maps.stats().jvmMapsWritten === 2);
    expect(Date.now() - t0, 'the second request came too early').toBeGreaterThanOrEqual(650);
    // The period has doubled to 2 s: a miss and an interval ending in 0.5 s wait for the period instead.
    t0 = Date.now();
    maps.unnamed(pid);
    maps.intervalEnds(t0 + 500);
    await until('the third map', () => maps.stats().jvmMapsWritten === 3, 5000);
    expect(Date.now() - t0, 'the third request came before the doubled period').toBeGreaterThanOrEqual(1800);
    // An interval without misses asks nothing.
    maps.intervalEnds(Date.now() + 100);
    await new Promise((r) => setTimeout(r, 500));
    expect(maps.stats().jvmMapsWritten).toBe(3);
    expect(readFileSync(map, 'utf8')).toMatch(/ long Burner\.burn\(int\)$/m);
    expect(maps.stats().jvmMapFailures, logged.join('\n')).toBe(0);
  });

  it('leaves a process that is not a JVM alone', async () => {
    const sleeper = startChild('sleep', ['30']);
    await until('sleep to start', () => existsSync(`/proc/${sleeper.pid}/maps`));
    const maps = new JvmPerfMaps();
    maps.unnamed(sleeper.pid!);
    await new Promise((r) => setTimeout(r, 300));
    expect(maps.stats()).toMatchObject({ jvmProcesses: 0, jvmMapsWritten: 0, jvmMapFailures: 0 });
    expect(sleeper.exitCode).toBeNull();
  });

  it('tells a JVM by the symbolizer’s snapshot of its mappings (no /proc/PID/maps read of its own)', { timeout: 60_000 }, async () => {
    expect(javaMajorVersion(), 'Compiler.perfmap needs JDK 17+: apt-get install openjdk-17-jdk-headless').toBeGreaterThanOrEqual(17);
    const java = startChild('java', ['-cp', compileJavaBurner(), 'Main', '30']);
    const pid = java.pid!;
    await until('a started JVM', () => isHotSpot(pid) && catchesSigquit(pid));
    rmSync(`/proc/${pid}/root/tmp/perf-${pid}.map`, { force: true });
    const snapshot: KnownProcess = { startTime: readStartTime(pid), mappings: readMaps(pid)! };
    expect(mapsHotSpot(snapshot.mappings)).toBe(true);
    // The snapshot decides: told the same JVM has no libjvm.so mapped, it is left alone …
    const blind = new JvmPerfMaps();
    blind.unnamed(pid, { ...snapshot, mappings: snapshot.mappings.filter((m) => !m.path.endsWith('/libjvm.so')) });
    expect(blind.stats().jvmProcesses).toBe(0);
    // … and with its real mappings it is asked for its map.
    const maps = new JvmPerfMaps();
    maps.unnamed(pid, snapshot);
    await until('the map', () => maps.stats().jvmMapsWritten === 1);
    expect(maps.stats()).toMatchObject({ jvmProcesses: 1, jvmMapFailures: 0 });
  });

  it('looks again at once at a pid the snapshot shows reused, not only after the recheck period', async () => {
    // An empty /proc: any read of it would find nothing, so what is found comes from the snapshots.
    const procRoot = mkdtempSync(path.join(tmpdir(), 'kiln-jvm-proc-'));
    try {
      const code = (p: string): CodeMapping => ({ start: 0x400000, end: 0x500000, offset: 0, fileId: '8:1 77', path: p, deleted: false });
      const maps = new JvmPerfMaps({ procRoot, recheckMs: 60_000 });
      maps.unnamed(4242, { startTime: '100', mappings: [code('/usr/bin/node')] });
      expect(maps.stats().jvmProcesses).toBe(0);
      // The same process (same start time): not looked at again within the period.
      maps.unnamed(4242, { startTime: '100', mappings: [code('/usr/lib/jvm/java-17-openjdk-amd64/lib/server/libjvm.so')] });
      expect(maps.stats().jvmProcesses).toBe(0);
      // Another process under the same pid: classified now.
      maps.unnamed(4242, { startTime: '200', mappings: [code('/usr/lib/jvm/java-17-openjdk-amd64/lib/server/libjvm.so')] });
      expect(maps.stats().jvmProcesses).toBe(1);
      // Its request fails (nothing under this /proc answers), and says so.
      await until('the failed request', () => maps.stats().jvmMapFailures === 1);
    } finally {
      rmSync(procRoot, { recursive: true, force: true });
    }
  });
});
