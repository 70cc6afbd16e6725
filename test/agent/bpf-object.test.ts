import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { requireCommand } from './require-bpf.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('committed BPF object', () => {
  it('is exactly what `npm run build:bpf` makes from the committed source', () => {
    requireCommand('clang', 'clang llvm');
    const out = path.join(mkdtempSync(path.join(tmpdir(), 'kiln-bpf-')), 'profile.bpf.o');
    execFileSync('npm', ['run', '--silent', 'build:bpf', '--', out], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const rebuilt = readFileSync(out);
    const committed = readFileSync(path.join(ROOT, 'src/agent/bpf/profile.bpf.o'));
    expect(rebuilt.length, 'rebuilt object size differs: run `npm run build:bpf` and commit src/agent/bpf/profile.bpf.o').toBe(committed.length);
    expect(rebuilt.equals(committed), 'rebuilt object differs: run `npm run build:bpf` and commit src/agent/bpf/profile.bpf.o').toBe(true);
  });

  it('carries no machine paths (debug paths are made relative)', () => {
    const committed = readFileSync(path.join(ROOT, 'src/agent/bpf/profile.bpf.o')).toString('latin1');
    expect(committed).not.toContain(ROOT);
    expect(committed).not.toMatch(/\/include\//);
  });
});
