import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/**
 * The conformance corpus lives beside the checkout in ../shared/testdata (never copied in).
 * Suites that need it call requireTestdata(), which fails with a plain message when it is absent.
 */
export const TESTDATA = fileURLToPath(new URL('../../../shared/testdata/', import.meta.url));

export function requireTestdata(sub = ''): string {
  const dir = path.join(TESTDATA, sub);
  if (!existsSync(dir)) {
    throw new Error(`conformance corpus missing: ${dir} — check out ../shared beside this repository (CI has it)`);
  }
  return dir;
}

/** Every pprof file of the corpus (including parca-many/), absolute paths, sorted. */
export function pprofFiles(): string[] {
  const dir = requireTestdata('pprof');
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) for (const f of readdirSync(path.join(dir, e.name))) out.push(path.join(dir, e.name, f));
    else out.push(path.join(dir, e.name));
  }
  return out.sort();
}
