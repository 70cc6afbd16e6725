import { describe, expect, it } from 'vitest';
import { frameKind, packageOf } from '../../ui/src/model/frame-kind.js';
import { diffColor, frameColor } from '../../ui/src/model/palette.js';
import { parseMatchers } from '../../src/query/selector.js';
import { parseTime } from '../../src/query/time.js';
import { checkLabelSelector, matcherValue, withMatcher } from '../../ui/src/model/label-selector.js';
import { describeRange, resolveRange, stepSeconds } from '../../ui/src/model/time-range.js';
import { formatPercent, formatValue } from '../../ui/src/model/units.js';
import { DEFAULT_STATE, parseState, serializeState } from '../../ui/src/state/url-state.js';
import { encodeSelectMergeProfile } from '../../ui/src/api/querier.js';

describe('selector input, read by the server parser', () => {
  it('accepts exactly what the server accepts', () => {
    for (const text of ['{service_name="checkout", namespace=~"shop-.*", pod!="x", env!~"dev|test",}', '{}', '', "{a='x', b=`y`}", '{a=~"(?i)web"}']) {
      const p = checkLabelSelector(text);
      expect(p.ok, text).toBe(true);
      expect(p.ok && p.matchers).toEqual(parseMatchers(text));
    }
    for (const text of ['{service_name=checkout}', '{a="1"', '{a=~"("}', '{a=~"(?=x)"}', 'process_cpu:cpu:nanoseconds:cpu:nanoseconds{}']) {
      const p = checkLabelSelector(text);
      expect(p.ok, text).toBe(false);
      expect(() => parseMatchers(text)).toThrow(!p.ok ? p.error : 'unreachable');
    }
  });
  it('says what is wrong and where', () => {
    const p = checkLabelSelector('{service_name=checkout}');
    expect(!p.ok && p.error).toMatch(/expected a quoted label value, got "c" \(at column 15\)/);
    const bad = checkLabelSelector('{a=~"("}');
    expect(!bad.ok && bad.error).toMatch(/invalid regex for label "a"/);
  });
  it('sets and replaces one label, in a spelling the server reads back', () => {
    expect(withMatcher('{}', 'service_name', 'a"b')).toBe('{service_name="a\\"b"}');
    expect(parseMatchers(withMatcher('{}', 'service_name', 'a"b'))).toEqual([{ name: 'service_name', op: '=', value: 'a"b' }]);
    expect(withMatcher('{service_name="a", version="1"}', 'service_name', 'b')).toBe('{version="1",service_name="b"}');
    expect(withMatcher('{service_name="a"}', 'service_name', '')).toBe('{}');
    expect(matcherValue('{version="1",service_name=~"b.*"}', 'version')).toBe('1');
    expect(matcherValue('{version="1",service_name=~"b.*"}', 'service_name')).toBe('');
    expect(matcherValue('{broken', 'version')).toBe('');
  });
});

describe('URL state', () => {
  it('round-trips every field and leaves defaults out of the link', () => {
    expect(serializeState(DEFAULT_STATE)).toBe('');
    const s = {
      ...DEFAULT_STATE,
      type: 'process_cpu:cpu:nanoseconds:cpu:nanoseconds',
      query: '{service_name="checkout"}',
      view: 'diff' as const,
      zoom: ['main', 'serve'],
      hide: ['runtime.gc', 'a,b'],
      search: 'parse',
      theme: 'dark' as const,
      leftQuery: '{version="1.4"}',
      rightQuery: '{version="1.5"}',
    };
    expect(parseState(serializeState(s))).toEqual(s);
  });
});

describe('units', () => {
  it('shows CPU time as seconds and cores over the range', () => {
    expect(formatValue(30e9, 'nanoseconds', 60)).toBe('30 s (0.5 cores)');
    expect(formatValue(2.5e6, 'nanoseconds')).toBe('2.5 ms');
  });
  it('shows bytes as MiB and counts with their unit', () => {
    expect(formatValue(3 * 1024 * 1024, 'bytes')).toBe('3 MiB');
    expect(formatValue(1234, 'count')).toBe('1,234');
    expect(formatValue(25_000, 'objects')).toBe('25 k objects');
    expect(formatPercent(1, 3)).toBe('33.3%');
  });
});

describe('time ranges, read by the server parser', () => {
  it('resolves what the server resolves: relative, Unix ms or s, RFC 3339', () => {
    const now = 1_700_000_000_000;
    for (const [from, until] of [['now-1h', 'now'], ['1699990000000', '1700000000000'], ['1699990000', 'now'], ['2023-11-14T20:00:00Z', 'now-5m']]) {
      expect(resolveRange(from!, until!, now)).toEqual({ start: parseTime(from!, now), end: parseTime(until!, now) });
    }
    expect(resolveRange('now-1h', 'now', now)).toEqual({ start: now - 3_600_000, end: now });
  });
  it('refuses what the server refuses, and an empty or backwards range', () => {
    expect(() => resolveRange('yesterday', 'now')).toThrow(/cannot read time "yesterday"/);
    expect(() => resolveRange('now', 'now-1h')).toThrow(/ends \(now-1h\) before it starts \(now\)/);
    expect(() => resolveRange('now', 'now')).toThrow(/ends/);
  });
  it('describes a relative range in words and an absolute one in UTC', () => {
    expect(describeRange('now-6h', 'now')).toBe('last 6h');
    expect(describeRange('1700000000000', '1700003600000')).toBe('2023-11-14 22:13:20 → 2023-11-14 23:13:20 UTC');
  });
});

describe('frame kinds and colours', () => {
  it('tells kernel, JIT and user frames apart', () => {
    expect(frameKind('do_syscall_64_[k]', 3)).toBe('kernel');
    expect(frameKind('entry_SYSCALL_64', 3)).toBe('kernel');
    expect(frameKind('LazyCompile:*handler /app/x.js:10', 3)).toBe('jit');
    expect(frameKind('foo_[j]', 3)).toBe('jit');
    expect(frameKind('net/http.(*conn).serve', 3)).toBe('user');
    expect(frameKind('tcp_sendmsg', 5)).toBe('kernel'); // agent-symbolized kernel frame, no suffix
    expect(frameKind('main.tcp_handler', 5)).toBe('user'); // qualified: never kernel
    expect(frameKind('runtime.schedule', 5)).toBe('user');
  });
  it('colours by package, stably, in separate hue bands per kind', () => {
    expect(packageOf('net/http.(*conn).serve')).toBe('net/http');
    expect(packageOf('std::io::Write::write')).toBe('std::io');
    expect(frameColor('net/http.a', 1, false)).toBe(frameColor('net/http.a', 1, false));
    const hue = (c: string) => Number(/hsl\((\d+)/.exec(c)![1]);
    expect(hue(frameColor('tcp_sendmsg_[k]', 2, false))).toBeLessThan(50);
    expect(hue(frameColor('main.work', 2, false))).toBeGreaterThanOrEqual(172);
  });
  it('diff colours: red when the comparison grows, green when it shrinks', () => {
    expect(diffColor(0.1, 0.2, false)).toMatch(/^hsl\(0,/);
    expect(diffColor(0.2, 0.1, false)).toMatch(/^hsl\(130,/);
  });
});

describe('pprof download request', () => {
  it('encodes SelectMergeProfileRequest fields 1-4 as protobuf', () => {
    const b = encodeSelectMergeProfile({ profileTypeID: 'a', labelSelector: '{}', start: 300, end: 1 });
    expect([...b]).toEqual([0x0a, 1, 0x61, 0x12, 2, 0x7b, 0x7d, 0x18, 0xac, 0x02, 0x20, 1]);
  });
});

describe('chart step', () => {
  it('is a whole multiple of the agent’s 10 s push interval for every preset, so a steady load draws flat', () => {
    const H = 3_600_000;
    for (const ms of [15 * 60_000, H, 6 * H, 24 * H, 7 * 24 * H]) {
      const step = stepSeconds(0, ms);
      expect(step % 10, `range ${ms} ms → step ${step} s`).toBe(0);
      expect(ms / 1000 / step).toBeLessThanOrEqual(240);
    }
    expect(stepSeconds(0, H)).toBe(20);
  });
});
