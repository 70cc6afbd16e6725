import { describe, expect, it } from 'vitest';
import { InputError, isValidLabelName, labelsFrom, sanitizeLabelName, validateLabels } from '../../src/model/index.js';

describe('sanitizeLabelName', () => {
  it('turns attribute keys and annotation names into valid label names', () => {
    expect(sanitizeLabelName('service.name')).toBe('service_name');
    expect(sanitizeLabelName('app.kubernetes.io/name')).toBe('app_kubernetes_io_name');
    expect(sanitizeLabelName('thread name')).toBe('thread_name');
    expect(sanitizeLabelName('9lives')).toBe('_9lives');
    for (const k of ['service.name', 'a-b/c d', '0x10', 'ünïcode']) expect(isValidLabelName(sanitizeLabelName(k))).toBe(true);
  });

  it('leaves an empty name empty (callers decide what an empty key means)', () => {
    expect(sanitizeLabelName('')).toBe('');
  });
});

describe('validateLabels', () => {
  it('rejects a NUL in a value, which would let one label set pass for another in series ids', () => {
    expect(() => validateLabels(labelsFrom({ a: '1\0b\x002' }))).toThrow(InputError);
    expect(() => validateLabels(labelsFrom({ a: '1\0b\x002' }))).toThrow(/label a value contains a NUL/);
    expect(() => validateLabels(labelsFrom({ a: '1', b: '2' }))).not.toThrow();
  });
});
