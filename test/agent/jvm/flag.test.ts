import { describe, expect, it } from 'vitest';
import { parseConfigYaml, resolveConfig } from '../../../src/agent/config.js';

describe('the JVM perf-map setting', () => {
  it('is on by default, off with --no-jvm-perf-map or jvm_perf_map: false, and refuses a non-boolean', () => {
    expect(resolveConfig({}, {}).jvmPerfMap).toBe(true);
    expect(resolveConfig({}, { jvmPerfMap: false }).jvmPerfMap).toBe(false);
    expect(resolveConfig(parseConfigYaml('jvm_perf_map: false'), {}).jvmPerfMap).toBe(false);
    expect(resolveConfig(parseConfigYaml('jvm_perf_map: "no"'), {}).jvmPerfMap).toBe(false);
    expect(() => resolveConfig(parseConfigYaml('jvm_perf_map: sometimes'), {})).toThrow(/--jvm-perf-map "sometimes": expected true or false/);
  });
});
