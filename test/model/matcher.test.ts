import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/model/errors.js';
import { labelsFrom } from '../../src/model/labels.js';
import { compileRegex, matches, type Matcher } from '../../src/model/matcher.js';

const sel = (name: string, op: Matcher['op'], value: string): Matcher[] => [{ name, op, value }];
const has = (labels: Record<string, string>, name: string, op: Matcher['op'], value: string) => matches(labelsFrom(labels), sel(name, op, value));

function errorOf(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}

describe('label matchers: Prometheus semantics, RE2 in linear time', () => {
  it('answers (a+)+$ against 30 a\'s and a "!" at once (a backtracking RegExp takes ~40 s)', () => {
    const poison = { v: `${'a'.repeat(30)}!` };
    const started = performance.now();
    expect(has(poison, 'v', '=~', '(a+)+$')).toBe(false);
    expect(has(poison, 'v', '!~', '(a+)+$')).toBe(true);
    expect(compileRegex('(a+)+$', { anchored: false }).test(poison.v)).toBe(false);
    // The same shape on a value 100 times longer still takes linear time.
    expect(has({ v: `${'a'.repeat(3000)}!` }, 'v', '=~', '(a+)+!')).toBe(true);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('anchors =~ and !~ on both ends, around the whole alternation', () => {
    expect(has({ service_name: 'webapp' }, 'service_name', '=~', 'web')).toBe(false);
    expect(has({ service_name: 'webapp' }, 'service_name', '=~', 'web.*')).toBe(true);
    expect(has({ service_name: 'my-web' }, 'service_name', '=~', 'web')).toBe(false);
    // `^a|ab$` would match "ab" by its first branch; `^(?:a|ab)$` needs the second.
    expect(has({ v: 'ab' }, 'v', '=~', 'a|ab')).toBe(true);
    expect(has({ v: 'abc' }, 'v', '=~', 'a|ab')).toBe(false);
    expect(has({ namespace: 'shop-prod' }, 'namespace', '!~', 'shop-.*')).toBe(false);
    expect(has({ namespace: 'kube-system' }, 'namespace', '!~', 'shop-.*')).toBe(true);
  });

  it('unanchored patterns match any part of the input', () => {
    const re = compileRegex('web', { anchored: false });
    expect(re.test('my-webapp')).toBe(true);
    expect(re.test('w-e-b')).toBe(false);
    expect(compileRegex('^web$', { anchored: false }).test('my-webapp')).toBe(false);
  });

  it('a missing label matches as the empty string', () => {
    expect(has({ a: '1' }, 'team', '=~', '')).toBe(true);
    expect(has({ a: '1' }, 'team', '=~', '.*')).toBe(true);
    expect(has({ a: '1' }, 'team', '=~', '.+')).toBe(false);
    expect(has({ a: '1' }, 'team', '!~', '.+')).toBe(true);
    expect(has({ a: '1' }, 'team', '=', '')).toBe(true);
    expect(has({ a: '1' }, 'team', '!=', '')).toBe(false);
  });

  it('. matches a newline, as Prometheus compiles (?s); (?-s) turns that off', () => {
    const labels = { msg: 'line one\nline two' };
    expect(has(labels, 'msg', '=~', 'line one.line two')).toBe(true);
    expect(has(labels, 'msg', '=~', 'line.*')).toBe(true);
    expect(has(labels, 'msg', '=~', '(?-s)line.*')).toBe(false);
    // Anchored at the end of the value, not at the end of a line.
    expect(has(labels, 'msg', '=~', 'line one')).toBe(false);
  });

  it('speaks RE2: inline flags, named groups both ways, Unicode and POSIX classes', () => {
    expect(has({ v: 'CheckOut' }, 'v', '=~', '(?i)checkout')).toBe(true);
    expect(has({ v: 'CheckOut' }, 'v', '=~', 'checkout')).toBe(false);
    expect(has({ v: 'Zürich' }, 'v', '=~', '\\pL+')).toBe(true);
    expect(has({ v: 'abc1' }, 'v', '=~', '[[:alpha:]]+')).toBe(false);
    const m = compileRegex('(?P<team>[a-z]+)-(?<env>[a-z]+)', { anchored: true }).match('shop-prod');
    expect([m?.group(0), m?.group('team'), m?.group(2), m?.group('env')]).toEqual(['shop-prod', 'shop', 'prod', 'prod']);
    expect([m?.group(3), m?.group('nope')]).toEqual([undefined, undefined]);
    expect(compileRegex('(x)?(shop)', { anchored: true }).match('shop')?.group(1)).toBeUndefined();
    expect(compileRegex('shop', { anchored: true }).match('shop-prod')).toBeUndefined();
    expect(compileRegex('(\\d+)', { anchored: false }).match('pod-42-x')?.group(1)).toBe('42');
  });

  it('refuses what RE2 refuses with an InputError naming the pattern and the reason', () => {
    const cases: [string, RegExp][] = [
      ['(a)\\1', /regex "\(a\)\\\\1" is not valid RE2: invalid escape sequence `\\1` \(RE2 has no backreferences\)/],
      ['web(?=app)', /regex "web\(\?=app\)" is not valid RE2: lookahead `\(\?=` is not supported \(RE2 has no lookaround\)/],
      ['(?!x)y', /regex "\(\?!x\)y" is not valid RE2: lookahead `\(\?!`/],
      ['ab(?<!x)y', /regex "ab\(\?<!x\)y" is not valid RE2: lookbehind `\(\?<!` is not supported/],
      ['(unclosed', /regex "\(unclosed" is not valid RE2: missing closing \)/],
      ['a)|(b', /regex "a\)\|\(b" is not valid RE2: unexpected \)/],
      ['x{1001}', /regex "x\{1001\}" is not valid RE2: invalid repeat count/],
    ];
    for (const [pattern, message] of cases) {
      const e = errorOf(() => compileRegex(pattern, { anchored: true }));
      expect(e).toBeInstanceOf(InputError);
      expect((e as InputError).status).toBe(400);
      expect(e.message).toMatch(message);
    }
    // Reaching matches() with such a pattern is the user's error too, never a 500.
    expect(() => has({ v: 'aa' }, 'v', '=~', '(a)\\1')).toThrow(InputError);
  });

  it('keeps answering right while many distinct patterns pass through the cache', () => {
    for (let i = 0; i < 1500; i++) {
      expect(has({ pod: `web-${i}` }, 'pod', '=~', `web-${i}`)).toBe(true);
      expect(compileRegex(`web-${i}`, { anchored: false }).test(`x-web-${i}-y`)).toBe(true);
    }
    expect(has({ pod: 'web-7' }, 'pod', '=~', 'web-7')).toBe(true);
    expect(has({ pod: 'web-70' }, 'pod', '=~', 'web-7')).toBe(false);
    expect(compileRegex('web-7', { anchored: false }).test('web-70')).toBe(true);
  });
});
