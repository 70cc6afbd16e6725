import { existsSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { AttachError, jcmd } from '../../../src/agent/jvm/attach.js';
import { catchesSigquit, isHotSpot } from '../../../src/agent/jvm/detect.js';
import { compileJavaBurner, javaMajorVersion, killStarted, startChild, until } from './java-fixture.js';

afterEach(killStarted);

describe('HotSpot dynamic attach (a real OpenJDK)', () => {
  it('asks a running JVM, unchanged, to write its JIT symbol map naming the hot method', { timeout: 60_000 }, async () => {
    expect(javaMajorVersion(), 'Compiler.perfmap needs JDK 17+: apt-get install openjdk-17-jdk-headless').toBeGreaterThanOrEqual(17);
    const cp = compileJavaBurner();
    const java = startChild('java', ['-cp', cp, 'Main', '30']);
    const pid = java.pid!;
    await until('libjvm.so in the java process', () => isHotSpot(pid));
    await until('the JVM to handle SIGQUIT', () => catchesSigquit(pid));
    // Give the JIT time to compile burn (its OSR and normal versions).
    await new Promise((r) => setTimeout(r, 1500));
    const answer = await jcmd(pid, 'Compiler.perfmap');
    expect(answer.status, `JVM answered: ${answer.output}`).toBe(0);
    const map = `/proc/${pid}/root/tmp/perf-${pid}.map`;
    expect(existsSync(map), `${map} was not written`).toBe(true);
    const text = readFileSync(map, 'utf8');
    expect(text).toMatch(/^0x[0-9a-f]+ 0x[0-9a-f]+ long Burner\.burn\(int\)$/m);
    expect(text).toMatch(/ Interpreter$/m);
    // Once the listener is up, later commands use the socket without another signal.
    expect((await jcmd(pid, 'Compiler.perfmap')).status).toBe(0);
    expect(java.exitCode, 'the JVM kept running').toBeNull();
  });

  it('never signals a process that does not handle SIGQUIT (it would dump core)', async () => {
    const sleeper = startChild('sleep', ['30']);
    await until('sleep to start', () => existsSync(`/proc/${sleeper.pid}/status`));
    expect(isHotSpot(sleeper.pid!)).toBe(false);
    const refused = await jcmd(sleeper.pid!, 'Compiler.perfmap').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(AttachError);
    expect((refused as AttachError).permanent).toBe(true);
    expect((refused as Error).message).toMatch(/SIGQUIT/);
    await new Promise((r) => setTimeout(r, 200));
    expect(sleeper.exitCode, 'sleep is still running').toBeNull();
    expect(sleeper.signalCode).toBeNull();
  });
});

describe('HotSpot dynamic attach refused by the JVM', () => {
  it('never signals a JVM started with -XX:+DisableAttachMechanism (it would print a thread dump)', { timeout: 60_000 }, async () => {
    const java = startChild('java', ['-XX:+DisableAttachMechanism', '-cp', compileJavaBurner(), 'Main', '30']);
    const pid = java.pid!;
    await until('the JVM to handle SIGQUIT', () => catchesSigquit(pid));
    const refused = await jcmd(pid, 'Compiler.perfmap').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(AttachError);
    expect((refused as AttachError).permanent).toBe(true);
    expect((refused as Error).message).toMatch(/DisableAttachMechanism/);
    expect(existsSync(`/proc/${pid}/root/tmp/.attach_pid${pid}`), 'no attach file left behind').toBe(false);
  });
});
