import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';
import { loadManifests, type Workload } from './manifests.js';

/**
 * The agent run the way the DaemonSet runs it: root, every capability outside the manifest's list
 * removed from the bounding set, no_new_privs (allowPrivilegeEscalation: false). It must still load
 * its BPF program, name kernel frames (kallsyms) and name the JIT frames of another user's process
 * whose perf map only that user may read. Needs root (as the agent's proof tests do).
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const container = loadManifests().get<Workload>('DaemonSet', 'kiln-agent').spec.template.spec.containers[0]!;
const CAPS = container.securityContext?.capabilities?.add ?? [];
const TYPE = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds';

function requireRootAndSetpriv(): void {
  if (process.getuid?.() !== 0) throw new Error('this test runs the eBPF agent with the DaemonSet\'s capabilities: run it as root');
  if (spawnSync('setpriv', ['--version']).status !== 0) throw new Error('this test needs setpriv (Debian package util-linux)');
}

function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

async function topNames(server: TestServer, selector: string): Promise<string[]> {
  const q = new URLSearchParams({ query: `${TYPE}{${selector}}`, from: 'now-10m', sort: 'total', limit: '500' });
  const res = await fetch(`${server.url}/api/v1/top?${q}`);
  if (!res.ok) return [];
  const body = (await res.json()) as { entries: Array<{ name: string }> };
  return body.entries.map((e) => e.name);
}

describe('agent with exactly the DaemonSet\'s capabilities', () => {
  let server: TestServer;
  let workload: ChildProcess | undefined;
  let agent: ChildProcess | undefined;
  let agentLog = '';
  beforeAll(async () => {
    requireRootAndSetpriv();
    server = await startTestServer();
  });
  afterAll(async () => {
    await stop(agent);
    await stop(workload);
    await server?.close();
  });

  it('samples, and names kernel frames and another user\'s private JIT frames', async () => {
    expect(CAPS.length).toBeGreaterThan(0);
    // Another user's Node process, busy in a JS function that makes system calls; umask 077 makes its
    // perf map (/tmp/perf-PID.map) readable by its owner only.
    workload = spawn('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'sh', '-c',
      `umask 077; exec "${process.execPath}" --perf-basic-prof -e "const fs = require('fs'); function kilnCapsWorkload() { for (;;) fs.statSync('/'); } kilnCapsWorkload()"`],
    { cwd: '/tmp', stdio: 'ignore' });
    const bounding = ['-all', ...CAPS.map((c) => `+${c.toLowerCase()}`)].join(',');
    agent = spawn('setpriv', [`--bounding-set=${bounding}`, '--no-new-privs', process.execPath, '--import', 'tsx', 'src/cli/main.ts', 'agent',
      `--server=${server.url}`, '--interval=2s', '--metrics-port=-1', '--node-name=caps-test'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    agent.stderr!.on('data', (d: Buffer) => (agentLog += d.toString()));

    // Bounded wait for the workload's profile (the agent sends one per process every interval).
    const selector = `pid="${workload.pid}"`;
    let names: string[] = [];
    for (let i = 0; i < 60 && agent.exitCode === null; i++) {
      await new Promise((r) => setTimeout(r, 500));
      names = await topNames(server, selector);
      if (names.some((n) => n.includes('kilnCapsWorkload')) && names.some((n) => /do_syscall_64|invoke_syscall|el0_svc/.test(n))) break;
    }
    expect(agent.exitCode, `the agent exited early:\n${agentLog}`).toBeNull();
    expect(names.length, `no profile of the workload reached the server; agent log:\n${agentLog}`).toBeGreaterThan(0);
    // JIT frames: /proc/PID/root (SYS_PTRACE) and a perf map only its owner may read (DAC_READ_SEARCH).
    const sample = names.slice(0, 15).join('\n  ');
    expect(names.some((n) => n.includes('kilnCapsWorkload')), `JS function named (SYS_PTRACE, DAC_READ_SEARCH); got:\n  ${sample}`).toBe(true);
    // Kernel frames named from /proc/kallsyms, which shows zero addresses without SYSLOG.
    expect(names.some((n) => /do_syscall_64|invoke_syscall|el0_svc/.test(n)), `kernel frames named (SYSLOG); got:\n  ${sample}`).toBe(true);
    expect(names.filter((n) => n.startsWith('[kernel.kallsyms]+'))).toEqual([]);
  });
});
