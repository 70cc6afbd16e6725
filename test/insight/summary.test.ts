import { describe, expect, it } from 'vitest';
import { parseServerConfig } from '../../src/config/server-config.js';
import { InputError, parseProfileType } from '../../src/model/index.js';
import { compareStacks } from '../../src/insight/compare.js';
import { DEFAULT_POLICY, Redactor, redactSummary } from '../../src/insight/redact.js';
import { reveal } from '../../src/insight/redact-reveal.js';
import { compileRegex } from '../../src/model/matcher.js';
import { summarize } from '../../src/insight/summary.js';
import { estimateTokens, fitSummary } from '../../src/insight/summary-render.js';
import { folded } from '../query/fixtures.js';

/** Summaries, budgets and redaction on stacks made by hand; the corpus proofs are in summary-redact.test.ts. */
const COUNT = parseProfileType('process_cpu:samples:count:cpu:nanoseconds');
const KEY = new TextEncoder().encode('0123456789abcdef0123456789abcdef');

const STACKS = folded({
  'app!main;app!github.com/acme/billing.(*Invoice).Total;app!github.com/acme/billing.tax': 400,
  'app!main;app!github.com/acme/billing.(*Invoice).Total;libc.so.6!memcpy': 100,
  'app!main;app!net/http.(*conn).serve;app!encoding/json.Unmarshal': 300,
  'app!main;app!runtime.mallocgc': 150,
  'app!main;[kernel.kallsyms]!do_syscall_64_[k]': 50,
});

function summary() {
  return summarize({ type: COUNT, stacks: STACKS, period: 1, selection: 'process_cpu:samples:count:cpu:nanoseconds{service_name="billing-api"}' });
}

describe('summarize', () => {
  it('hot paths, hottest functions, callers, binaries and packages with their exact shares', () => {
    const s = summary();
    expect(s.samples).toBe(1000);
    expect(s.hotPaths[0]).toEqual({ share: 0.4, frames: ['main', 'github.com/acme/billing.(*Invoice).Total', 'github.com/acme/billing.tax'] });
    expect(s.hotPaths.map((p) => p.share)).toEqual([0.4, 0.3, 0.15, 0.1, 0.05]);
    expect(s.hottest.map((f) => [f.name, f.self, f.total])).toEqual([
      ['github.com/acme/billing.tax', 0.4, 0.4],
      ['encoding/json.Unmarshal', 0.3, 0.3],
      ['runtime.mallocgc', 0.15, 0.15],
      ['memcpy', 0.1, 0.1],
      ['do_syscall_64_[k]', 0.05, 0.05],
    ]);
    // main holds everything and says nothing; the rest are callers doing their work through callees.
    expect(s.callers.map((f) => [f.name, f.total])).toEqual([
      ['github.com/acme/billing.(*Invoice).Total', 0.5],
      ['net/http.(*conn).serve', 0.3],
    ]);
    expect(s.hottest[3]!.binary).toBe('libc.so.6');
    expect(s.binaries).toEqual([{ name: 'app', share: 0.85 }, { name: 'libc.so.6', share: 0.1 }, { name: '[kernel.kallsyms]', share: 0.05 }]);
    expect(s.packages.map((p) => p.name)).toEqual(['github.com/acme/billing', 'encoding/json', 'runtime', 'memcpy', 'kernel']);
  });

  it('what changed: only significant changes, with both shares', () => {
    const base = folded({ 'main;a': 700, 'main;b': 300 });
    const head = folded({ 'main;a': 500, 'main;b': 500 });
    const report = compareStacks(COUNT, { stacks: base, period: 1 }, { stacks: head, period: 1 }, { limit: 0 });
    const s = summarize({ type: COUNT, stacks: head, period: 1, selection: '2 profile files', changes: { base: '1 profile file', report } });
    // main's share (100 %) did not move: it is not a change.
    expect(s.changes!.functions.map((f) => [f.name, f.totalBase, f.totalHead]).sort()).toEqual([
      ['a', 0.7, 0.5],
      ['b', 0.3, 0.5],
    ]);
    const text = fitSummary(s, 'text', 0);
    expect(text).toContain('Changes against 1 profile file (2 functions changed beyond sampling noise; share before → after):\n');
    expect(text).toContain('\n  a: total 70.0% → 50.0%, self 70.0% → 50.0%\n');
  });

  it('an empty profile is bad input', () => {
    expect(() => summarize({ type: COUNT, stacks: [], period: 1, selection: 'x{}' })).toThrow(InputError);
  });
});

describe('token budget', () => {
  // A wide profile: 400 functions, long paths.
  const wide = folded(
    Object.fromEntries(Array.from({ length: 400 }, (_, i) => [`main;${Array.from({ length: 30 }, (_, d) => `pkg${d}.frame${d}`).join(';')};leaf${i}`, 1000 - i])),
  );
  const s = summarize({ type: COUNT, stacks: wide, period: 1, selection: 'x{}' });

  it('every budget is met, and a larger budget keeps more', () => {
    let previous = 0;
    for (const budget of [150, 300, 600, 1200, 2400]) {
      for (const format of ['text', 'json'] as const) {
        const out = fitSummary(s, format, budget);
        expect(estimateTokens(out)).toBeLessThanOrEqual(budget);
        if (format === 'text') {
          expect(out.length).toBeGreaterThanOrEqual(previous);
          previous = out.length;
        }
      }
    }
    // The most important lines survive every cut: the hottest function is leaf0.
    expect(fitSummary(s, 'text', 300)).toContain('leaf0');
    expect(fitSummary(s, 'text', 300)).toMatch(/… \d+ frames …/);
  });

  it('a budget too small for the bones cuts the text and says so', () => {
    const out = fitSummary(s, 'text', 40);
    expect(estimateTokens(out)).toBeLessThanOrEqual(40);
    expect(out).toMatch(/\[cut to fit the token budget\]\n$/);
  });
});

describe('redaction', () => {
  it('allow-list mode: runtime, standard library, libc and kernel names stay; the rest become stable pseudonyms', () => {
    const r = new Redactor(KEY);
    const out = fitSummary(redactSummary(summary(), r), 'text', 0);
    for (const kept of ['runtime.mallocgc', 'encoding/json.Unmarshal', 'memcpy', 'do_syscall_64_[k]', 'libc.so.6', 'net/http.(*conn).serve']) expect(out).toContain(kept);
    for (const secret of ['acme', 'billing', 'Invoice', 'main', 'app']) expect(out).not.toContain(secret);
    const again = new Redactor(KEY);
    expect(fitSummary(redactSummary(summary(), again), 'text', 0)).toBe(out);
    const other = new Redactor(new TextEncoder().encode('another key of at least 16 bytes'));
    expect(fitSummary(redactSummary(summary(), other), 'text', 0)).not.toBe(out);
    // The service name in the selector is a label value: redacted too, and back with the mapping.
    expect(out).toMatch(/\{service_name="label_[0-9a-f]{10}"\}/);
    expect(reveal(out, r.mapping).text).toBe(fitSummary(summary(), 'text', 0));
  });

  it('patterns mode: only matching names go, and a pattern beats the allow-list', () => {
    const r = new Redactor(KEY, { ...DEFAULT_POLICY, mode: 'patterns', patterns: [compileRegex('acme', { anchored: false }), compileRegex('^encoding/', { anchored: false })] });
    const out = fitSummary(redactSummary(summary(), r), 'text', 0);
    expect(out).not.toMatch(/acme|encoding\/json/);
    expect(out).toContain('main → fn_');
    expect(out).toContain('net/http.(*conn).serve');
    expect(reveal(out, r.mapping)).toEqual({ text: fitSummary(summary(), 'text', 0), replaced: expect.any(Number), unknown: [] });
  });

  it('reveal leaves pseudonyms it does not know, and counts them', () => {
    const r = reveal('fn_0000000000 and fn_1111111111', new Map([['fn_0000000000', 'a.b']]));
    expect(r).toEqual({ text: 'a.b and fn_1111111111', replaced: 1, unknown: ['fn_1111111111'] });
  });
});

describe('summaries: config section', () => {
  it('reads patterns, allow-list additions and the key file; refuses what it does not know', () => {
    const cfg = parseServerConfig(
      `summaries:\n  max_tokens: 800\n  redact:\n    mode: patterns\n    patterns: ['acme']\n    allow: { functions: ['github.com/gin-gonic/*'] }\n    key_file: /etc/kiln/summary.key\n`,
      'kiln.yaml',
    ).summaries!;
    expect(cfg.maxTokens).toBe(800);
    expect(cfg.keyFile).toBe('/etc/kiln/summary.key');
    expect(cfg.policy.mode).toBe('patterns');
    expect(cfg.policy.patterns.map((p) => p.pattern)).toEqual(['acme']);
    expect(cfg.policy.allowFunctions).toContain('github.com/gin-gonic/*');
    expect(cfg.policy.allowFunctions).toContain('runtime.*');
    expect(() => parseServerConfig('summaries:\n  redact:\n    mode: all\n', 'kiln.yaml')).toThrow(/kiln.yaml: summaries.redact.mode must be allow-list or patterns/);
    expect(() => parseServerConfig('summaries:\n  redact:\n    mode: patterns\n', 'kiln.yaml')).toThrow(/patterns is empty/);
    expect(() => parseServerConfig("summaries:\n  redact:\n    patterns: ['a(']\n", 'kiln.yaml')).toThrow(/summaries.redact.patterns\[0\]/);
    expect(() => parseServerConfig('summaries:\n  tokens: 5\n', 'kiln.yaml')).toThrow(/summaries.tokens is not a setting here/);
  });
});
