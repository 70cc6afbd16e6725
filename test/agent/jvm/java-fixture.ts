import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { requireCommand } from '../require-bpf.js';

/** Compiles fixtures/jvm/Main.java (Main.main → Burner.burn) into a temp dir; returns the class path. */
export function compileJavaBurner(): string {
  requireCommand('java', 'openjdk-17-jdk-headless');
  requireCommand('javac', 'openjdk-17-jdk-headless');
  const src = fileURLToPath(new URL('../fixtures/jvm/Main.java', import.meta.url));
  const out = mkdtempSync(path.join(tmpdir(), 'kiln-java-'));
  execFileSync('javac', ['-d', out, src]);
  return out;
}

/** The major version of the `java` on PATH (17 for OpenJDK 17); it prints its version on stderr. */
export function javaMajorVersion(): number {
  const text = spawnSync('java', ['-version'], { encoding: 'utf8' }).stderr;
  const m = /version "(\d+)(?:\.(\d+))?/.exec(text);
  if (!m) throw new Error(`cannot read the Java version from: ${text.split('\n')[0]}`);
  return m[1] === '1' ? Number(m[2]) : Number(m[1]);
}

/** Polls `ok` every 20 ms until it holds; fails naming `what` after `ms`. */
export async function until(what: string, ok: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Children a test started, killed after each test (call killStarted in afterEach). */
const started: ChildProcess[] = [];

export function startChild(cmd: string, args: string[]): ChildProcess {
  const c = spawn(cmd, args, { stdio: 'ignore' });
  started.push(c);
  return c;
}

export function killStarted(): void {
  for (const c of started.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    removePerfMap(c.pid!);
  }
}

/** A JVM's perf map outlives it in /tmp (by design, as with -XX:+DumpPerfMapAtExit): tests remove theirs. */
export function removePerfMap(pid: number): void {
  rmSync(`/tmp/perf-${pid}.map`, { force: true });
}
