import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/model/errors.js';
import { parseSelector, parseSeriesSelector } from '../../src/query/selector.js';

const CPU = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds';

describe('the profile type written as private labels, in a merge selector', () => {
  it('reads __profile_type__ as the type, as Grafana sends it', () => {
    expect(parseSelector(`{__profile_type__="${CPU}", service_name="api"}`)).toEqual({
      profileType: CPU,
      matchers: [{ name: 'service_name', op: '=', value: 'api' }],
    });
  });

  it('accepts __name__ naming the type of the profile_typeID it comes with, and refuses one naming another', () => {
    expect(parseSelector('{__name__="process_cpu", service_name="api"}', CPU)).toEqual({
      profileType: CPU,
      matchers: [{ name: 'service_name', op: '=', value: 'api' }],
    });
    expect(() => parseSelector('{__name__="memory"}', CPU)).toThrow(/does not match/);
    expect(() => parseSelector('{__type__="alloc_space"}', CPU)).toThrow(InputError);
  });

  it('a type name alone cannot pick one type for a merge: the error asks for the full id', () => {
    expect(() => parseSelector('{__name__="process_cpu"}')).toThrow(/names the type "process_cpu" but not which one/);
  });

  it('other private labels stay label matchers (no stored series has them)', () => {
    expect(parseSelector(`${CPU}{__delta__="false"}`).matchers).toEqual([{ name: '__delta__', op: '=', value: 'false' }]);
  });
});

describe('parseSeriesSelector: the selectors of label, series and type listings', () => {
  it('leaves the type open when none is written', () => {
    expect(parseSeriesSelector('{a="1"}')).toEqual({ type: [], labels: [{ name: 'a', op: '=', value: '1' }] });
    expect(parseSeriesSelector('')).toEqual({ type: [], labels: [] });
  });

  it('reads a type name alone before the braces as __name__, a full id as __profile_type__', () => {
    expect(parseSeriesSelector('process_cpu{a="1"}')).toEqual({
      type: [{ name: '__name__', op: '=', value: 'process_cpu' }],
      labels: [{ name: 'a', op: '=', value: '1' }],
    });
    expect(parseSeriesSelector(`${CPU}:delta`).type).toEqual([{ name: '__profile_type__', op: '=', value: CPU }]);
  });

  it('still rejects what is not a type name (a bad id, a bad character)', () => {
    expect(() => parseSeriesSelector('process_cpu:cpu{}')).toThrow(/is not name:sample_type/);
    expect(() => parseSeriesSelector('process/cpu{}')).toThrow(InputError);
  });
});
