import { execFileSync, spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { agentCommand } from '../../src/cli/agent.js';
import { requireBpf, requireCommand } from './require-bpf.js';

const RUNNER = fileURLToPath(new URL('./fixtures/run-agent.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function kilnProgramsLoaded(): number {
  const progs = JSON.parse(execFileSync('bpftool', ['prog', 'show', '--json']).toString()) as { name?: string }[];
  return progs.filter((p) => p.name === 'kiln_sample').length;
}

describe('kiln agent (CLI)', () => {
  it('documents every flag in --help, with its default', () => {
    const help = agentCommand().helpInformation();
    for (const flag of ['--server', '--protocol', '--frequency', '--interval', '--config', '--node-name', '--metrics-port', '--metrics-host',
      '--stack-map-size', '--counts-map-size', '--bearer-token-file', '--tenant', '--queue-size', '--queue-bytes', '--timeout']) {
      expect(help, flag).toContain(flag);
    }
    expect(help).toContain('(default: 19)');
    expect(help).toContain('(default: http://localhost:4040)');
    expect(help).toContain('(default: otlp)');
    expect(help).toContain('relabel_configs');
  });

  it('exits 2 with the reason on a bad flag, before loading anything', () => {
    const r = spawnSyncAgent(['--frequency', 'lots']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--frequency "lots"');
  });

  it('on SIGTERM detaches from the kernel, sends the last interval and exits 0', { timeout: 60_000 }, async () => {
    requireBpf();
    requireCommand('bpftool', 'bpftool');
    const before = kilnProgramsLoaded();
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
      expect(kilnProgramsLoaded()).toBe(before + 1);
      await new Promise((r) => setTimeout(r, 1500));
      child.kill('SIGTERM');
      expect(await exited, stderr).toBe(0);
      expect(stderr).toContain('SIGTERM, detaching');
      expect(kilnProgramsLoaded(), 'the BPF program is gone after exit').toBe(before);
      // The interval is an hour: whatever reached the sink was the partial interval sent on the way out.
      expect(posts).toBeGreaterThan(0);
    } finally {
      sink.close();
    }
  });
});

function spawnSyncAgent(args: string[]): { status: number | null; stderr: string } {
  try {
    execFileSync(process.execPath, ['--import', 'tsx', RUNNER, ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    return { status: 0, stderr: '' };
  } catch (e) {
    const err = e as { status: number | null; stderr: Buffer };
    return { status: err.status, stderr: err.stderr.toString() };
  }
}
