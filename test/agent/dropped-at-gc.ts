import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * Runs a fixture under `node --expose-gc --trace-deopt-verbose` (it makes and drops objects, with full GCs
 * between rounds) and returns the functions whose optimized code V8 dropped at a GC because an object it was
 * compiled against died ("weak objects"). `done`: a line the fixture prints once its last round is over.
 */
export function codeDroppedAtGc(fixture: string, args: readonly string[], done: string): string[] {
  const r = spawnSync(process.execPath, ['--expose-gc', '--trace-deopt-verbose', '--import', 'tsx', fixture, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 120_000,
    maxBuffer: 256 << 20,
  });
  if (r.status !== 0) throw new Error(`fixture failed (${r.status}): ${r.stderr.slice(-2000)}`);
  expect(r.stdout).toContain(done);
  const out: string[] = [];
  for (const m of r.stdout.matchAll(/^\[marking dependent code .*<SharedFunctionInfo ([^>]*)>.* reason: weak objects\]$/gm)) out.push(m[1]!);
  return out;
}
