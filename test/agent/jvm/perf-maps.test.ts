import { existsSync, readFileSync, rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { catchesSigquit, isHotSpot } from '../../../src/agent/jvm/detect.js';
import { JvmPerfMaps } from '../../../src/agent/jvm/perf-maps.js';
import { compileJavaBurner, javaMajorVersion, killStarted, startChild, until } from './java-fixture.js';

afterEach(killStarted);

describe('JvmPerfMaps: JIT symbol maps requested on unnamed JIT code (a real OpenJDK)', () => {
  it('writes a JVM\'s map on the first miss, then at most once per doubling period, and at the period\'s end after a miss within it', { timeout: 60_000 }, async () => {
    expect(javaMajorVersion(), 'Compiler.perfmap needs JDK 17+: apt-get install openjdk-17-jdk-headless').toBeGreaterThanOrEqual(17);
    const java = startChild('java', ['-cp', compileJavaBurner(), 'Main', '30']);
    const pid = java.pid!;
    await until('a started JVM', () => isHotSpot(pid) && catchesSigquit(pid));
    const map = `/proc/${pid}/root/tmp/perf-${pid}.map`;
    rmSync(map, { force: true });
    const logged: string[] = [];
    const maps = new JvmPerfMaps({ minIntervalMs: 1000, log: (l) => logged.push(l) });

    maps.unnamed(pid);
    await until('the first map', () => maps.stats().mapsWritten === 1);
    expect(existsSync(map)).toBe(true);
    expect(maps.stats().jvms).toBe(1);
    // Misses right after a request do not ask again …
    for (let i = 0; i < 50; i++) maps.unnamed(pid);
    await new Promise((r) => setTimeout(r, 500));
    expect(maps.stats().mapsWritten).toBe(1);
    // … one after the period does (1 s), and the next period is 2 s.
    await new Promise((r) => setTimeout(r, 600));
    maps.unnamed(pid);
    await until('the second map', () => maps.stats().mapsWritten === 2);
    const second = Date.now();
    while (Date.now() - second < 1500) {
      maps.unnamed(pid);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(maps.stats().mapsWritten, 'a third request came before the doubled period').toBe(2);
    // The misses during the period are not forgotten: the third request follows when it ends, unasked.
    await until('the third map, when the 2 s period ended', () => maps.stats().mapsWritten === 3, 3000);
    expect(readFileSync(map, 'utf8')).toMatch(/ long Burner\.burn\(int\)$/m);
    expect(maps.stats().failures, logged.join('\n')).toBe(0);
  });

  it('leaves a process that is not a JVM alone', async () => {
    const sleeper = startChild('sleep', ['30']);
    await until('sleep to start', () => existsSync(`/proc/${sleeper.pid}/maps`));
    const maps = new JvmPerfMaps();
    maps.unnamed(sleeper.pid!);
    await new Promise((r) => setTimeout(r, 300));
    expect(maps.stats()).toMatchObject({ jvms: 0, mapsWritten: 0, failures: 0 });
    expect(sleeper.exitCode).toBeNull();
  });
});
