import { readFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeProfiles, detectFormat } from '../../src/formats/registry.js';
import { compileRegex } from '../../src/model/matcher.js';
import { DEFAULT_POLICY, Redactor, redactSummary } from '../../src/insight/redact.js';
import { estimateTokens, fitSummary } from '../../src/insight/summary-render.js';
import { loadSummary } from '../../src/insight/summary-source.js';
import { packageOf } from '../../src/insight/summary-package.js';
import { runKiln } from '../support/cli.js';
import { pprofFiles, requireTestdata } from '../support/testdata.js';

/**
 * Issue 10's redaction proof on the conformance corpus: with patterns covering the corpus' own packages
 * (its organisations' module paths, Go's `main`, the .NET and Ruby applications), none of those package
 * names appears anywhere in a summary — functions, files, binaries, packages, hot paths; pseudonyms are
 * the same run after run, and the key (or the saved mapping) turns them back into the names.
 */
const OWN_PATTERNS = [
  'github\\.com/parca-dev/',
  'github\\.com/polarsignals/',
  'github\\.com/grafana/',
  'github\\.com/conprof/',
  'github\\.com/prometheus-operator/',
  '^main\\.',
  'WebApplication1',
  '(^|/)app/',
];
const patterns = OWN_PATTERNS.map((p) => compileRegex(p, { anchored: false }));

/** The packages of a file's functions that the patterns cover: what must never be seen. */
async function ownPackages(file: string): Promise<Set<string>> {
  const data = new Uint8Array(await readFile(file));
  const names = decodeProfiles(detectFormat(file, data), data).flatMap((p) => p.dict.functions.map((f) => f.name));
  return new Set(names.filter((n) => patterns.some((re) => re.test(n))).map(packageOf).filter((p) => p !== ''));
}

/** Where the text shows one of the packages: as a substring, or for a bare package (`main`) as a qualifier. */
function leaks(text: string, packages: Iterable<string>): string[] {
  const found: string[] = [];
  for (const p of packages) {
    const bare = !p.includes('/') && !p.includes('.');
    if (bare ? new RegExp(`(^|[\\s→(,"])${p}\\.`, 'm').test(text) : text.includes(p)) found.push(p);
  }
  return found;
}

const noServer = (): Promise<Uint8Array> => Promise.reject(new Error('files only'));

let dir = '';
let keyFile = '';

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'kiln-redact-'));
  keyFile = path.join(dir, 'summary.key');
  await writeFile(keyFile, 'a-test-key-of-32-bytes-0123456789\n', { mode: 0o600 });
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('redaction on the corpus', () => {
  it('every pprof file, patterns mode and allow-list mode: none of its own packages in any output', async () => {
    const key = new TextEncoder().encode('a-test-key-of-32-bytes-0123456789');
    let checked = 0;
    for (const file of pprofFiles()) {
      const own = await ownPackages(file);
      const { summary } = await loadSummary({ target: { kind: 'files', text: file, paths: [file] } }, noServer);
      const unredacted = fitSummary(summary, 'json', 0);
      for (const policy of [{ ...DEFAULT_POLICY, mode: 'patterns' as const, patterns }, DEFAULT_POLICY]) {
        const red = redactSummary(summary, new Redactor(key, policy));
        for (const format of ['text', 'json'] as const) expect({ file, mode: policy.mode, format, leaks: leaks(fitSummary(red, format, 0), own) }).toEqual({ file, mode: policy.mode, format, leaks: [] });
      }
      // The check can fail: the unredacted summary shows the file's own packages (when it has any listed).
      if (own.size > 0 && leaks(unredacted, own).length > 0) checked++;
    }
    expect(checked).toBeGreaterThanOrEqual(8);
  }, 300_000);
});

describe('kiln summarize --redact on the whole pprof corpus', () => {
  const corpus = () => requireTestdata('pprof');
  const redactArgs = () => [
    'summarize', corpus(), '--redact', '--redact-mode', 'patterns', ...OWN_PATTERNS.flatMap((p) => ['--redact-pattern', p]),
    '--redact-key-file', keyFile, '--max-tokens', '0',
  ];

  it('no own package anywhere; the same pseudonyms on a second run; the mapping and the key both reveal the names', async () => {
    const own = new Set<string>();
    for (const f of pprofFiles()) for (const p of await ownPackages(f)) own.add(p);
    expect(own.size).toBeGreaterThan(50);

    const mapping = path.join(dir, 'map.json');
    const first = await runKiln([...redactArgs(), '--mapping-out', mapping], { timeoutMs: 180_000 });
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(leaks(first.stdout, own)).toEqual([]);
    expect(first.stdout).toMatch(/fn_[0-9a-f]{10}/);

    const second = await runKiln(redactArgs(), { timeoutMs: 180_000 });
    expect(second.stdout).toBe(first.stdout);

    const plain = await runKiln(['summarize', corpus(), '--max-tokens', '0'], { timeoutMs: 180_000 });
    // Unredacted, the merged CPU profiles do show their own packages: the check above can fail.
    expect(leaks(plain.stdout, own)).toEqual(expect.arrayContaining(['main', 'WebApplication1.Controllers', 'github.com/polarsignals/pprof-example-app-go/fib']));
    const answer = path.join(dir, 'answer.txt');
    await writeFile(answer, first.stdout);
    const byMapping = await runKiln(['summarize', '--reveal', answer, '--mapping', mapping], { timeoutMs: 120_000 });
    expect(byMapping.code).toBe(0);
    expect(byMapping.stdout).toBe(plain.stdout);
    // No mapping kept: the names are re-derived from the profile with the key, from stdin.
    const byKey = await runKiln(['summarize', corpus(), '--reveal', '--redact-key-file', keyFile], { timeoutMs: 180_000, input: first.stdout });
    expect(byKey.stdout).toBe(plain.stdout);
    // Another key: other pseudonyms, which this key's mapping does not know.
    const otherKey = path.join(dir, 'other.key');
    await writeFile(otherKey, 'another-key-of-32-bytes-987654321\n');
    const other = await runKiln([...redactArgs().slice(0, -4), '--redact-key-file', otherKey, '--max-tokens', '0'], { timeoutMs: 180_000 });
    expect(other.stdout).not.toBe(first.stdout);
    const wrong = await runKiln(['summarize', '--reveal', '--mapping', mapping], { timeoutMs: 120_000, input: other.stdout });
    expect(wrong.stderr).toMatch(/pseudonym\(s\) not in the mapping, left as they are/);
  }, 600_000);

  it('the default budget holds: at most 2000 tokens', async () => {
    const res = await runKiln(['summarize', corpus(), '--redact', '--redact-key-file', keyFile], { timeoutMs: 180_000 });
    expect(res.code).toBe(0);
    expect(estimateTokens(res.stdout)).toBeLessThanOrEqual(2000);
    expect(res.stdout).toContain('Hot paths');
  }, 240_000);
});
