import { existsSync, readFileSync, rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { catchesSigquit, isHotSpot } from '../../../src/agent/jvm/detect.js';
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
});
