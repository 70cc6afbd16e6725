import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The CLI as users run it, from source through tsx (no build needed for tests). */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function kilnArgs(args: readonly string[]): string[] {
  return ['--import', 'tsx', MAIN, ...args];
}

/** Runs `kiln ARGS…` to completion (bounded by timeoutMs) and returns its exit code and output. */
export function runKiln(args: readonly string[], opts: { timeoutMs?: number; input?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, kilnArgs(args), { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

export interface CliServer {
  readonly url: string;
  readonly process: ChildProcess;
  /** SIGTERM and wait for exit (the graceful path users take with Ctrl-C). */
  stop(): Promise<number | null>;
}

/** Starts `kiln server` on a free loopback port and waits until it says where it listens. */
export function startKilnServer(args: readonly string[]): Promise<CliServer> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, kilnArgs(['server', '--host', '127.0.0.1', '--port', '0', ...args]), {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`kiln server did not start within 60 s:\n${stderr}`));
    }, 60_000);
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      const m = /listening on [^:]+:(\d+)/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
        resolve({
          url: `http://127.0.0.1:${m[1]}`,
          process: child,
          stop: () => {
            child.kill('SIGTERM');
            return exited;
          },
        });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`kiln server exited (${code}) during start-up:\n${stderr}`));
    });
  });
}
