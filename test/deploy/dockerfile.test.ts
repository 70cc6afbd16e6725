import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadManifests, type Workload } from './manifests.js';

/**
 * deploy/Dockerfile cannot be built on the test machines (no container engine), so these tests check
 * what can be checked without one: every script, file and package it names exists, and the
 * manifests run it the way its entrypoint expects.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dockerfile = readFileSync(`${ROOT}deploy/Dockerfile`, 'utf8');
const ignored = readFileSync(`${ROOT}deploy/Dockerfile.dockerignore`, 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));
const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { scripts: Record<string, string>; bin: Record<string, string> };

/** Instructions with their continuation lines joined, comments dropped. */
const instructions = dockerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));
const stages = instructions.join('\n').split(/^FROM /m).slice(1);
const runtime = stages.at(-1)!;

/** A path the build context drops (top-level patterns only, which is all the ignore file uses). */
function isIgnored(path: string): boolean {
  return ignored.some((p) => path === p || path.startsWith(`${p}/`) || (p.startsWith('*') && path.endsWith(p.slice(1))));
}

describe('deploy/Dockerfile', () => {
  it('runs the CLI entry point users run, for both programs', () => {
    expect(instructions).toContain('ENTRYPOINT ["node", "bin/kiln.js"]');
    expect(pkg.bin.kiln).toBe('bin/kiln.js');
    expect(existsSync(`${ROOT}bin/kiln.js`)).toBe(true);
    const verbs = loadManifests().ofKind<Workload>('StatefulSet').concat(loadManifests().ofKind<Workload>('DaemonSet'))
      .map((w) => w.spec.template.spec.containers[0]!);
    for (const c of verbs) expect(c.command, `${c.name} keeps the image entrypoint`).toBeUndefined();
    expect(verbs.map((c) => c.args?.[0]).sort()).toEqual(['agent', 'server']);
  });

  it('builds with npm ci and scripts package.json has, keeping optional dependencies', () => {
    const runs = instructions.filter((l) => l.startsWith('RUN '));
    expect(runs.some((r) => /\bnpm ci\b/.test(r))).toBe(true);
    const scripts = [...dockerfile.matchAll(/npm run ([\w:-]+)/g)].map((x) => x[1]!);
    expect(scripts).toContain('build');
    for (const s of scripts) expect(Object.keys(pkg.scripts), `npm run ${s}`).toContain(s);
    // The server serves ui/dist: the image builds the UI, directly or through `npm run build`.
    const runsUiBuild = (script: string): boolean => script === 'build:ui' || (pkg.scripts[script] ?? '').includes('npm run build:ui');
    expect(scripts.some(runsUiBuild), 'the web UI is built').toBe(true);
    // koffi's and DuckDB's native binaries are optional dependencies.
    expect(dockerfile).not.toMatch(/^[^#]*--omit[= ]optional/m);
  });

  it('installs libbpf1 in the image that runs, on a Debian Node 20 base', () => {
    expect(stages.length).toBeGreaterThanOrEqual(1);
    for (const s of stages) expect(s).toMatch(/^node:20-(bookworm|trixie)/);
    expect(runtime).toMatch(/apt-get install[^\n]*\blibbpf1\b/);
  });

  it('copies into the runtime image what the CLI loads at run time, none of it left out of the build context', () => {
    const copied = [...runtime.matchAll(/^COPY --from=build (.+)$/gm)].flatMap((x) => x[1]!.split(/\s+/).slice(0, -1)).map((p) => p.replace(/^\/app\//, ''));
    // Built in the image: dist (tsc outDir), ui/dist (the server's --ui default), node_modules.
    const tsconfig = JSON.parse(readFileSync(`${ROOT}tsconfig.json`, 'utf8')) as { compilerOptions: { outDir: string } };
    expect(copied).toEqual(expect.arrayContaining([tsconfig.compilerOptions.outDir, 'ui/dist', 'node_modules', 'bin', 'package.json']));
    // The committed BPF object: tsc does not copy it, the loader finds it under src/ beside dist/.
    expect(copied).toContain('src/agent/bpf/profile.bpf.o');
    expect(readFileSync(`${ROOT}src/agent/loader.ts`, 'utf8')).toContain("'../../src/agent/bpf/profile.bpf.o'");
    for (const p of copied.filter((c) => existsSync(`${ROOT}${c}`) && !['dist', 'ui/dist', 'node_modules'].includes(c))) {
      expect(isIgnored(p), `${p} reaches the build context`).toBe(false);
    }
    // Local build outputs must not leak into the image's own build.
    for (const p of ['node_modules', 'dist', 'ui/dist', 'src/gen']) expect(isIgnored(p), p).toBe(true);
  });
});
