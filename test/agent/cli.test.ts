import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { agentCommand } from '../../src/cli/agent.js';
import { requireBpf, requireCommand } from './require-bpf.js';

const RUNNER = fileURLToPath(new URL('./fixtures/run-agent.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function kilnProgramIds(): number[] {
  const progs = JSON.parse(execFileSync('bpftool', ['prog', 'show', '--json']).toString()) as { id: number; name?: string }[];
  return progs.filter((p) => p.name === 'kiln_sample').map((p) => p.id);
}

/**
 * Ids of the BPF programs a process holds (its program and link fds name them in fdinfo). Counting every
 * kiln_sample on the host instead would race with other agents started meanwhile (other test runs).
 */
function programIdsHeldBy(pid: number): number[] {
  const ids = new Set<number>();
  for (const fd of readdirSync(`/proc/${pid}/fdinfo`)) {
    let info = '';
    try {
      info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
    } catch {
      continue; // closed meanwhile
    }
    const m = /^prog_id:\s*(\d+)$/m.exec(info);
    if (m) ids.add(Number(m[1]));
  }
  return [...ids];
}

describe('kiln agent (CLI)', () => {
  it('documents every flag in --help, with its default', () => {
    const help = agentCommand().helpInformation();
    for (const flag of ['--server', '--protocol', '--frequency', '--interval', '--config', '--node-name', '--metrics-port', '--metrics-host',
      '--stack-map-size', '--counts-map-size', '--bearer-token-file', '--tenant', '--queue-size', '--queue-bytes', '--timeout',
      '--off-cpu', '--off-cpu-min', '--off-cpu-period', '--no-unwind-tables', '--unwind-table-size', '--adaptive', '--adaptive-budget']) {
      expect(help, flag).toContain(flag);
    }
    expect(help).toContain('(default: 19)');
    expect(help).toContain('(default: http://localhost:4040)');
    expect(help).toContain('(default: kiln)');
    expect(help).toMatch(/how often profiles are read and sent.*\(default: 10s\)/s);
    expect(help).toMatch(/per-request timeout \(default: 10s\)/);
    expect(help).toContain('relabel_configs');
  });

  it('exits 2 with the reason on a bad flag, before loading anything', () => {
    const r = spawnSyncAgent(['--frequency', 'lots']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--frequency "lots"');
  });

  it('run without privileges, exits 1 naming the missing capabilities', () => {
    // As root, drop to nobody with no capabilities; otherwise this already is the unprivileged case.
    if (process.getuid?.() === 0) requireCommand('setpriv', 'util-linux');
    const r =
      process.getuid?.() === 0
        ? spawnSyncAgent(['--server', 'http://127.0.0.1:9', '--metrics-port', '-1'], ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all'])
        : spawnSyncAgent(['--server', 'http://127.0.0.1:9', '--metrics-port', '-1']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/needs root or CAP_BPF \+ CAP_PERFMON/);
  });

  it('on SIGTERM detaches from the kernel, sends the last interval and exits 0', { timeout: 60_000 }, async () => {
    requireBpf();
    requireCommand('bpftool', 'bpftool');
    let posts = 0;
    const sink = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        posts++;
        res.end();
      });
    });
    await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', RUNNER, '--server', url, '--interval', '1h', '--metrics-port', '-1'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      while (!stderr.includes('sampling')) {
        if (child.exitCode !== null) throw new Error(`agent exited early: ${stderr}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const ours = programIdsHeldBy(child.pid!).filter((id) => kilnProgramIds().includes(id));
      expect(ours, 'the agent holds one kiln_sample program').toHaveLength(1);
      // Something to sample even on an idle machine (idle CPUs give no profiles).
      const busy = spawn(process.execPath, ['-e', 'const end = Date.now() + 1500; while (Date.now() < end) {}'], { stdio: 'ignore' });
      await new Promise((r) => busy.once('exit', r));
      child.kill('SIGTERM');
      expect(await exited, stderr).toBe(0);
      expect(stderr).toContain('SIGTERM, detaching');
      expect(kilnProgramIds(), 'the BPF program is gone after exit').not.toContain(ours[0]);
      // The interval is an hour: whatever reached the sink was the partial interval sent on the way out.
      expect(posts).toBeGreaterThan(0);
    } finally {
      sink.close();
    }
  });
});

function spawnSyncAgent(args: string[], wrapper: string[] = []): { status: number | null; stderr: string } {
  const argv = [...wrapper, process.execPath, '--import', 'tsx', RUNNER, ...args];
  try {
    execFileSync(argv[0]!, argv.slice(1), { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    return { status: 0, stderr: '' };
  } catch (e) {
    const err = e as { status: number | null; stderr: Buffer };
    return { status: err.status, stderr: err.stderr.toString() };
  }
}
