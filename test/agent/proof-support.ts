import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveConfig, type RawSettings } from '../../src/agent/config.js';
import type { AgentConfig } from '../../src/agent/config.js';
import { MetadataLabeler } from '../../src/agent/metadata/index.js';
import { startAgent } from '../../src/agent/agent.js';
import type { ProcessLabeler } from '../../src/agent/types.js';
import { requireCommand } from './require-bpf.js';

/** Shared steps of the agent's proof tests: build the workload, run it, read back what the server stored. */

export const CPU = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds';

/** Compiles fixtures/burn.c the way the proof requires (-O0, frame pointers) into a temp dir. */
export function compileBurn(): string {
  return compileFixture('burn.c', 'burn', ['-O0', '-fno-omit-frame-pointer', '-g']);
}

/** Compiles a C fixture into a temp dir as `name`, with `flags`; returns the binary's path. */
export function compileFixture(source: string, name: string, flags: string[]): string {
  requireCommand('clang', 'clang');
  const src = fileURLToPath(new URL(`./fixtures/${source}`, import.meta.url));
  const out = path.join(mkdtempSync(path.join(tmpdir(), `kiln-${name}-`)), name);
  execFileSync('clang', [...flags, src, '-o', out, '-lpthread']);
  return out;
}

export interface Workload {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Wall time from start to exit, seconds (once exited). */
  wallSeconds(): number;
  /** Exit code once it ended. */
  readonly exited: Promise<number | null>;
  /** CPU seconds (user + sys) it had used at the last look before it exited. */
  cpuSeconds(): number;
}

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/**
 * Starts a workload and keeps reading its CPU time from /proc (this machine is shared, so how much CPU
 * it really got — not wall time — is what the agent's totals are compared with).
 */
export function run(cmd: string, args: string[]): Workload {
  const started = performance.now();
  let ended: number | undefined;
  const child = spawn(cmd, args, { stdio: 'ignore' });
  const pid = child.pid!;
  let cpu = 0;
  const look = () => {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      cpu = (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime, stime (fields 14, 15)
    } catch {
      // exited between looks
    }
  };
  const timer = setInterval(look, 250);
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      ended = performance.now();
      clearInterval(timer);
      resolve(code);
    }),
  );
  return { child, pid, exited, cpuSeconds: () => cpu, wallSeconds: () => ((ended ?? performance.now()) - started) / 1000 };
}

/**
 * An agent config for tests: 499 Hz rather than the default 19 so that even on a shared, loaded
 * machine (where a workload may get a fifth of a core) 20 s give over a thousand samples, and the
 * ±5-point split checks sit several standard errors wide. Short intervals, no metrics port.
 */
export function testConfig(server: string, extra: RawSettings = {}): AgentConfig {
  // A generous request timeout: on a loaded machine a slow write must not be retried (and counted twice).
  return resolveConfig({}, { server, frequency: 499, interval: '2s', metricsPort: -1, timeout: '60s', ...extra });
}

/**
 * The agent's own labeler, keeping only the pids under test — what a `keep` relabel rule on `pid` does.
 * This machine is shared with other suites; symbolizing every process on it at 99 Hz would make the
 * test measure their load rather than the agent's correctness.
 */
export function keepOnly(pids: () => readonly number[], nodeName = 'test'): ProcessLabeler {
  const inner = new MetadataLabeler({ nodeName });
  return { labels: (pid, comm) => (pids().includes(pid) ? inner.labels(pid, comm) : []) };
}

/**
 * Runs a workload under the real agent (pushing to `serverUrl`, keeping only the workload's pid) until
 * it exits, then stops the agent, which sends the last interval and waits for delivery.
 */
export async function profileWorkload(serverUrl: string, cmd: string, args: string[], extra: RawSettings = {}): Promise<Workload> {
  let pids: number[] = [];
  const agent = await startAgent(testConfig(serverUrl, extra), { labeler: keepOnly(() => pids) });
  try {
    const workload = run(cmd, args);
    pids = [workload.pid];
    const code = await workload.exited;
    if (code !== 0) throw new Error(`${cmd} exited with ${code}`);
    return workload;
  } finally {
    await agent.stop(30_000);
  }
}

/** The server's merged folded stacks (root first, `a;b;c value`) for one process, over a range (Unix ms). */
export async function foldedForPid(serverUrl: string, pid: number, range?: { from: number; until: number }, type = CPU): Promise<Map<string, number>> {
  return folded(serverUrl, `${type}{pid="${pid}"}`, range);
}

/** The server's merged folded stacks for a selector (profile type and label matchers). */
export async function folded(serverUrl: string, query: string, range?: { from: number; until: number }): Promise<Map<string, number>> {
  const q = new URLSearchParams({
    query,
    from: range ? String(range.from) : 'now-15m',
    until: range ? String(range.until) : 'now+1m',
    format: 'folded',
  });
  const res = await fetch(`${serverUrl}/api/v1/flamegraph?${q.toString()}`);
  if (!res.ok) throw new Error(`flamegraph query failed: HTTP ${res.status} ${await res.text()}`);
  const out = new Map<string, number>();
  for (const line of (await res.text()).split('\n')) {
    const i = line.lastIndexOf(' ');
    if (i > 0) out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

/**
 * Share (0..100) of the process's CPU spent under a function (frames matching `fn`: a name, or a regex
 * for JIT names that change with the tier, e.g. `JS:~f` then `JS:*f`), and whether `caller` calls it
 * directly somewhere.
 */
export function shareUnder(folded: Map<string, number>, fn: string | RegExp, caller?: string): { percent: number; calledFromCaller: boolean } {
  const isFn = (name: string) => (typeof fn === 'string' ? name === fn : fn.test(name));
  let total = 0;
  let under = 0;
  let calledFromCaller = false;
  for (const [stack, v] of folded) {
    total += v;
    const frames = stack.split(';');
    const at = frames.findIndex(isFn);
    if (at >= 0) {
      under += v;
      if (at > 0 && frames[at - 1] === caller) calledFromCaller = true;
    }
  }
  return { percent: total > 0 ? (100 * under) / total : 0, calledFromCaller };
}

/** Sum of a folded profile's values, in seconds (values are CPU nanoseconds). */
export function totalSeconds(folded: Map<string, number>): number {
  let ns = 0;
  for (const v of folded.values()) ns += v;
  return ns / 1e9;
}
