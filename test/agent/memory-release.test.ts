import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURE = fileURLToPath(new URL('./fixtures/dropped-buffers.ts', import.meta.url));

interface Figures {
  held: { externalMiB: number; rssMiB: number };
  after: { externalMiB: number; rssMiB: number };
  exposedGlobally: string;
}

function run(mode: 'released' | 'plain'): Figures {
  const r = spawnSync(process.execPath, ['--import', 'tsx', FIXTURE, mode], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`fixture failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as Figures;
}

describe('agent memory release', () => {
  it("gives dropped buffers' memory back within a release period, where V8 alone keeps it", () => {
    const released = run('released');
    expect(released.held.externalMiB, 'the buffers were there').toBeGreaterThan(38);
    // RSS, not V8's external figure: V8 updates that one for freed buffers lazily.
    expect(released.held.rssMiB - released.after.rssMiB, JSON.stringify(released)).toBeGreaterThan(30);
    // gc stays out of the program's global scope (it is taken from a context of its own).
    expect(released.exposedGlobally).toBe('undefined');
    // The control: without it, 40 MiB of dead buffers are below V8's own trigger and stay.
    const plain = run('plain');
    expect(plain.after.externalMiB, JSON.stringify(plain)).toBeGreaterThan(38);
    expect(plain.held.rssMiB - plain.after.rssMiB, JSON.stringify(plain)).toBeLessThan(10);
  });
});
