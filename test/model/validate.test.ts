import { describe, expect, it } from 'vitest';
import { CPU_TYPE, DictionaryBuilder, InputError, labelsFrom } from '../../src/model/index.js';
import type { Profile } from '../../src/model/index.js';
import { isEmptyProfile, validateProfile } from '../../src/model/validate.js';

function profile(values: number[], labels: Record<string, string> = { service_name: 'app' }): Profile {
  const b = new DictionaryBuilder();
  const stacks = values.map((_, i) => b.stack([b.frame(`f${i}`), b.frame('main')]));
  return { type: CPU_TYPE, labels: labelsFrom(labels), timeMs: Date.UTC(2026, 0, 1), durationNs: 10e9, period: 1e9 / 19, dict: b.dict, stacks, values };
}

const rejects = (p: Profile, message: RegExp) => {
  expect(() => validateProfile(p)).toThrow(InputError);
  expect(() => validateProfile(p)).toThrow(message);
};

describe('validateProfile', () => {
  it('accepts a normal profile', () => {
    expect(() => validateProfile(profile([1, 2, 3]))).not.toThrow();
  });

  it('rejects negative, NaN and infinite values, naming the sample', () => {
    rejects(profile([1, -2]), /sample 1 has negative value -2/);
    rejects(profile([Number.NaN]), /sample 0 has value NaN/);
    rejects(profile([Number.POSITIVE_INFINITY]), /must be finite/);
  });

  it('rejects label names Prometheus would reject, and too many labels', () => {
    rejects(profile([1], { 'bad-name': 'x' }), /invalid label name "bad-name"/);
    rejects(profile([1], { '0abc': 'x' }), /invalid label name "0abc"/);
    const many = Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`l${i}`, 'v']));
    rejects(profile([1], many), /too many labels: 10000/);
  });

  it('rejects samples pointing outside the dictionary (a crafted payload must not poison queries)', () => {
    const p = profile([1]);
    rejects({ ...p, stacks: [5] }, /missing stack 5/);
    rejects({ ...p, stacks: [0, 0] }, /2 stacks but 1 values/);
    rejects({ ...p, dict: { ...p.dict, stacks: [[9]] } }, /missing location 9/);
  });

  it('rejects impossible times and periods', () => {
    rejects({ ...profile([1]), timeMs: Number.NaN }, /outside 1970..9999/);
    rejects({ ...profile([1]), durationNs: -1 }, /duration/);
    rejects({ ...profile([1]), period: Number.POSITIVE_INFINITY }, /period/);
  });

  it('treats a profile with no non-zero sample as empty (accepted as a no-op by the server)', () => {
    expect(isEmptyProfile(profile([]))).toBe(true);
    expect(isEmptyProfile(profile([0, 0]))).toBe(true);
    expect(isEmptyProfile(profile([0, 3]))).toBe(false);
    expect(() => validateProfile(profile([]))).not.toThrow();
  });
});
