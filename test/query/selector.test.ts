import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/model/errors.js';
import { formatSelector, parseMatchers, parseSelector } from '../../src/query/selector.js';
import { parseSelection } from '../../src/query/selection.js';

const CPU = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds';

function errorOf(f: () => unknown): InputError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return e as InputError;
  }
  throw new Error('expected an InputError, nothing was thrown');
}

describe('parseSelector: what users type', () => {
  it('reads a type and all four matcher operators', () => {
    const s = parseSelector(`${CPU}{service_name="checkout", env!="dev", pod=~"web-.*", ns!~"kube-.*"}`);
    expect(s).toEqual({
      profileType: CPU,
      matchers: [
        { name: 'service_name', op: '=', value: 'checkout' },
        { name: 'env', op: '!=', value: 'dev' },
        { name: 'pod', op: '=~', value: 'web-.*' },
        { name: 'ns', op: '!~', value: 'kube-.*' },
      ],
    });
  });

  it('accepts the bare type, empty braces, spaces and a trailing comma', () => {
    expect(parseSelector(CPU)).toEqual({ profileType: CPU, matchers: [] });
    expect(parseSelector(` ${CPU} { } `)).toEqual({ profileType: CPU, matchers: [] });
    expect(parseSelector(`${CPU}{ a = "1" , }`).matchers).toEqual([{ name: 'a', op: '=', value: '1' }]);
  });

  it("normalises Parca's 6-part :delta type to the 5-part id", () => {
    expect(parseSelector(`${CPU}:delta{a="1"}`).profileType).toBe(CPU);
  });

  it('takes the type separately when the text is only {...}, as querier.v1 sends it', () => {
    expect(parseSelector('{service_name="x"}', CPU)).toEqual({ profileType: CPU, matchers: [{ name: 'service_name', op: '=', value: 'x' }] });
    expect(parseSelector('', CPU)).toEqual({ profileType: CPU, matchers: [] });
    expect(parseSelector(`{__name__="${CPU}", a="b"}`)).toEqual({ profileType: CPU, matchers: [{ name: 'a', op: '=', value: 'b' }] });
  });

  it('unquotes PromQL strings: escapes in double and single quotes, raw backticks', () => {
    const s = parseSelector(`${CPU}{a="say \\"hi\\"\\n", b='it\\'s', c=\`C:\\path\`, d="\\u00e9\\x41\\101", e="{,}"}`);
    expect(s.matchers.map((m) => m.value)).toEqual(['say "hi"\n', "it's", 'C:\\path', 'éAA', '{,}']);
  });

  it('round-trips through formatSelector', () => {
    const s = parseSelector(`${CPU}{a="q\\"uote", b=~"x|y", c!="\\\\"}`);
    expect(formatSelector(s)).toBe(`${CPU}{a="q\\"uote",b=~"x|y",c!="\\\\"}`);
    expect(parseSelector(formatSelector(s))).toEqual(s);
  });

  it('parseMatchers reads only the braces', () => {
    expect(parseMatchers('{a="1"}')).toEqual([{ name: 'a', op: '=', value: '1' }]);
    expect(parseMatchers('  ')).toEqual([]);
    expect(() => parseMatchers(`${CPU}{a="1"}`)).toThrow(InputError);
  });
});

describe('parseSelector: bad input says what and where', () => {
  const cases: [string, RegExp][] = [
    [`${CPU}{a="1"`, /unclosed "\{".*column 50/],
    [`${CPU}{a="1" b="2"}`, /unexpected "b": expected "," or "}" \(at column 51\)/],
    [`${CPU}{a=1}`, /expected a quoted label value, got "1" \(at column 47\)/],
    [`${CPU}{a=="1"}`, /expected a quoted label value, got "=" \(at column 47\)/],
    [`${CPU}{a<"1"}`, /expected one of = != =~ !~ after label "a" \(at column 46\)/],
    [`${CPU}{1a="1"}`, /a label name starts with a letter or "_" \(at column 45\)/],
    [`${CPU}{a="1}`, /unterminated string starting with " \(at column 47\)/],
    [`${CPU}{a="\\q"}`, /invalid escape "\\q".*column 48/],
    [`${CPU}{a="1"} extra`, /unexpected "e" after "}" \(at column 52\)/],
    [`${CPU}{a=~"(unclosed"}`, /invalid regex for label "a" \(at column 46\)/],
    [`${CPU}{a="1", b!~"x(?=y)"}`, /invalid regex for label "b" \(at column 53\): regex "x\(\?=y\)" is not valid RE2: lookahead/],
    [`${CPU}{a=~\`(a)\\1\`}`, /invalid regex for label "a".*RE2 has no backreferences/],
    [`{a="1"}`, /selector has no profile type/],
    [`process_cpu{a="1"}`, /is not name:sample_type:sample_unit:period_type:period_unit.*column 1/],
    [`${CPU} x`, /unexpected "x" after the profile type/],
    [``, /selector is empty/],
    [`{__name__=~"cpu.*"}`, /__name__ \(the profile type\) only takes "="/],
  ];
  for (const [text, message] of cases) {
    it(`rejects ${JSON.stringify(text.replace(CPU, 'CPU'))}`, () => {
      expect(errorOf(() => parseSelector(text)).message).toMatch(message);
    });
  }

  it('rejects a type given twice that disagrees', () => {
    expect(errorOf(() => parseSelector(`${CPU}{a="1"}`, 'memory:alloc_space:bytes:space:bytes')).message).toMatch(/but "memory/);
  });

  it('bounds the cost of a huge selector', () => {
    expect(errorOf(() => parseSelector(`${CPU}{a="${'x'.repeat(70_000)}"}`)).message).toMatch(/limit 65536/);
  });
});

describe('parseSelection: SELECTOR@RANGE for command-line diffs', () => {
  const NOW = Date.UTC(2024, 4, 1, 12);
  const H = 3_600_000;
  const DEFAULT = { from: NOW - H, to: NOW };

  it('reads from..until, a duration, a start time, or nothing', () => {
    expect(parseSelection(`${CPU}{v="1.4"}@now-2h..now-1h`, DEFAULT, NOW)).toEqual({
      selector: { profileType: CPU, matchers: [{ name: 'v', op: '=', value: '1.4' }] },
      range: { from: NOW - 2 * H, to: NOW - H },
    });
    expect(parseSelection(`${CPU}@6h`, DEFAULT, NOW).range).toEqual({ from: NOW - 6 * H, to: NOW });
    expect(parseSelection(`${CPU}{a="x"}@2024-05-01T10:00:00Z`, DEFAULT, NOW).range).toEqual({ from: NOW - 2 * H, to: NOW });
    expect(parseSelection(`${CPU}{a="x"}`, DEFAULT, NOW).range).toBe(DEFAULT);
  });

  it('keeps an @ inside a label value', () => {
    const s = parseSelection(`${CPU}{user="a@b"}@1h`, DEFAULT, NOW);
    expect(s.selector.matchers[0]!.value).toBe('a@b');
    expect(s.range.from).toBe(NOW - H);
  });

  it('rejects an empty or backwards range', () => {
    expect(() => parseSelection(`${CPU}@`, DEFAULT, NOW)).toThrow(/nothing after "@"/);
    expect(() => parseSelection(`${CPU}@now..now-1h`, DEFAULT, NOW)).toThrow(/ends before it starts/);
    expect(() => parseSelection(`${CPU}@soon`, DEFAULT, NOW)).toThrow(InputError);
  });
});
