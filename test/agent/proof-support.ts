import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveConfig, type RawSettings } from '../../src/agent/config.js';
import type { AgentConfig } from '../../src/agent/config.js';
import { MetadataLabeler } from '../../src/agent/metadata/index.js';
import { startAgent, type RunningAgent } from '../../src/agent/agent.js';
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
  /**
   * CPU seconds (user + sys) it used: what it printed as it ended (`cpu_seconds X`, the fixtures' --cpu and
   * --duty budgets), else what /proc said at the last look before it exited (up to a poll late).
   */
  cpuSeconds(): number;
  /** What it printed as its own CPU time as it ended (`cpu_seconds X`), once exited; undefined if nothing. */
  reportedCpuSeconds(): number | undefined;
}

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/**
 * Starts a workload and keeps reading its CPU time from /proc (this machine is shared, so how much CPU
 * it really got — not wall time — is what the agent's totals are compared with).
 */
export function run(cmd: string, args: string[]): Workload {
  const started = performance.now();
  let ended: number | undefined;
  // In the temporary directory, not the checkout: node --perf-basic-prof leaves isolate-*-v8.log files in its
  // working directory (every workload path is absolute).
  const child = spawn(cmd, args, { cwd: tmpdir(), stdio: ['ignore', 'pipe', 'ignore'] });
  const pid = child.pid!;
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out = (out + chunk).slice(-4096)));
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
    // 'close': exited and its stdout read to the end.
    child.once('close', (code) => {
      ended = performance.now();
      clearInterval(timer);
      resolve(code);
    }),
  );
  const reported = () => {
    const m = /^cpu_seconds (\S+)$/m.exec(out);
    return m ? Number(m[1]) : undefined;
  };
  return {
    child,
    pid,
    exited,
    cpuSeconds: () => reported() ?? cpu,
    reportedCpuSeconds: reported,
    wallSeconds: () => ((ended ?? performance.now()) - started) / 1000,
  };
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

export interface ProfiledWorkload extends Workload {
  /** Where samples were lost on the way (lossReport), for failure messages. */
  readonly losses: string;
}

/**
 * Runs a workload under the real agent (pushing to `serverUrl`, keeping only the workload's pid) until
 * it exits, then stops the agent, which sends the last interval and waits for delivery.
 */
export async function profileWorkload(serverUrl: string, cmd: string, args: string[], extra: RawSettings = {}): Promise<ProfiledWorkload> {
  let pids: number[] = [];
  const agent = await startAgent(testConfig(serverUrl, extra), { labeler: keepOnly(() => pids) });
  let workload: Workload | undefined;
  try {
    workload = run(cmd, args);
    pids = [workload.pid];
    const code = await workload.exited;
    if (code !== 0) throw new Error(`${cmd} exited with ${code}`);
  } finally {
    await agent.stop(30_000);
  }
  return { ...workload, losses: await lossReport(agent) };
}

/**
 * The agent's counters of samples lost on the way to the server (dropped in BPF, stacks it could not
 * walk, profiles the send queue dropped, failed sends), as one line for a failure message: when a total
 * falls short, this says whether the agent lost samples or the machine did not run the workload.
 */
export async function lossReport(agent: RunningAgent): Promise<string> {
  const text = await agent.metrics.registry.metrics();
  const wanted = /^kiln_agent_(bpf_dropped_samples_total|export_queue_dropped_profiles_total|export_errors_total|unwind_stacks_total\{result="(truncated|read_error|bad_pc)"\}|bpf_samples_total|samples_total)(?=[\s{])/;
  const lines = text.split('\n').filter((l) => wanted.test(l));
  return `agent counters: ${lines.map((l) => l.replace(/^kiln_agent_/, '')).join(', ')}`;
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

/** What a total check compares, for its failure message: CPU stored vs CPU used, wall time, the agent's losses. */
export function accountOf(folded: Map<string, number>, workload: Workload, losses?: string): string {
  return `${totalSeconds(folded).toFixed(2)} s stored of ${workload.cpuSeconds().toFixed(2)} s used (${workload.wallSeconds().toFixed(1)} s wall)${losses ? `; ${losses}` : ''}`;
}
