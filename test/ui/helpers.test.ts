import { describe, expect, it } from 'vitest';
import { frameKind, packageOf } from '../../ui/src/model/frame-kind.js';
import { diffColor, frameColor } from '../../ui/src/model/palette.js';
import { formatSelector, parseSelector, withMatcher } from '../../ui/src/model/selector.js';
import { resolveRange, resolveTime, stepSeconds } from '../../ui/src/model/time-range.js';
import { formatPercent, formatValue } from '../../ui/src/model/units.js';
import { DEFAULT_STATE, parseState, serializeState } from '../../ui/src/state/url-state.js';
import { encodeSelectMergeProfile } from '../../ui/src/api/querier.js';

describe('selector input', () => {
  it('accepts the four matcher operators and a trailing comma', () => {
    const p = parseSelector('{service_name="checkout", namespace=~"shop-.*", pod!="x", env!~"dev|test",}');
    expect(p.ok && p.matchers.map((m) => m.op)).toEqual(['=', '=~', '!=', '!~']);
  });
  it('says what is wrong and where', () => {
    const p = parseSelector('{service_name=checkout}');
    expect(p.ok).toBe(false);
    expect(!p.ok && p.error).toMatch(/expected a quoted value at column 15/);
    expect(!parseSelector('{a="1"').ok && 'x').toBe('x');
    const bad = parseSelector('{a=~"("}');
    expect(!bad.ok && bad.error).toMatch(/invalid regular expression/);
  });
  it('sets and replaces one label, quoting values', () => {
    expect(withMatcher('{}', 'service_name', 'a"b')).toBe('{service_name="a\\"b"}');
    expect(withMatcher('{service_name="a", version="1"}', 'service_name', 'b')).toBe('{version="1", service_name="b"}');
    expect(formatSelector([])).toBe('{}');
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

describe('time ranges', () => {
  it('resolves relative and absolute times', () => {
    expect(resolveTime('now-1h', 10_000_000)).toBe(10_000_000 - 3_600_000);
    expect(resolveTime('1700000000000', 0)).toBe(1_700_000_000_000);
    expect(() => resolveTime('yesterday', 0)).toThrow(/not a time/);
    expect(() => resolveRange('now', 'now-1h')).toThrow(/ends/);
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
