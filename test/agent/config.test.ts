import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULTS, parseConfigYaml, parseDuration, readBearerToken, readConfigFile, resolveConfig } from '../../src/agent/config.js';
import { InputError } from '../../src/model/index.js';

describe('agent config', () => {
  it('uses the documented defaults when nothing is given', () => {
    const c = resolveConfig({}, {});
    expect(c.frequency).toBe(19);
    expect(c.intervalMs).toBe(10_000);
    expect(c.protocol).toBe('kiln');
    expect(c.server).toBe('http://localhost:4040');
    expect(c.stackMapSize).toBe(DEFAULTS.stackMapSize);
  });

  it('lets flags override the YAML file, which overrides defaults', () => {
    const file = parseConfigYaml('server: http://kiln:4040\nfrequency: 49\ninterval: 30s\nstack_map_size: 32768\n');
    const c = resolveConfig(file, { frequency: '99', interval: undefined });
    expect(c.server).toBe('http://kiln:4040');
    expect(c.frequency).toBe(99);
    expect(c.intervalMs).toBe(30_000);
    expect(c.stackMapSize).toBe(32768);
  });

  it('keeps relabel_configs from the file as written', () => {
    const file = parseConfigYaml('relabel_configs:\n  - source_labels: [comm]\n    regex: "kworker.*"\n    action: drop\n');
    const c = resolveConfig(file, {});
    expect(c.relabelConfigs).toEqual([{ source_labels: ['comm'], regex: 'kworker.*', action: 'drop' }]);
  });

  it('accepts every size and count setting within its range', () => {
    const c = resolveConfig({}, { queueBytes: '268435456', queueSize: '1000', countsMapSize: '65536', metricsPort: '-1', timeout: '30s' });
    expect(c.queueBytes).toBe(268_435_456);
    expect(c.queueSize).toBe(1000);
    expect(c.countsMapSize).toBe(65_536);
    expect(c.metricsPort).toBe(-1);
    expect(c.timeoutMs).toBe(30_000);
    expect(() => resolveConfig({}, { queueBytes: String(2 ** 31 + 1) })).toThrow(/--queue-bytes/);
  });

  it('leaves off-CPU off and unwind tables on by default, and reads both from flags and YAML', () => {
    const d = resolveConfig({}, {});
    expect(d.offCpu).toBe(false);
    expect(d.unwindTables).toBe(true);
    const c = resolveConfig(parseConfigYaml('off_cpu: true\noff_cpu_min: 1ms\nunwind_tables: false\n'), { offCpuPeriod: '20ms' });
    expect(c).toMatchObject({ offCpu: true, offCpuMinMs: 1, offCpuPeriodMs: 20, unwindTables: false });
    expect(() => resolveConfig({}, { offCpu: 'sometimes' })).toThrow(/--off-cpu "sometimes"/);
    expect(() => resolveConfig({}, { offCpuPeriod: '5s' })).toThrow(/--off-cpu-period/);
  });

  it('parses durations the way users write them', () => {
    expect(parseDuration('10s')).toBe(10_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('1m30s')).toBe(90_000);
    expect(parseDuration('15')).toBe(15_000);
    expect(parseDuration('10 parsecs')).toBeUndefined();
  });

  it.each([
    [{ frequency: 'fast' }, /--frequency "fast"/],
    [{ frequency: '0' }, /from 1 to 1000/],
    [{ interval: '10parsecs' }, /--interval "10parsecs"/],
    [{ protocol: 'zipkin' }, /--protocol "zipkin": use one of otlp, pyroscope, kiln/],
    [{ server: 'localhost:4040' }, /not an http\(s\) URL/],
    [{ metricsPort: '70000' }, /--metrics-port/],
  ])('rejects bad flag %o with an InputError that names it', (flags, message) => {
    expect(() => resolveConfig({}, flags)).toThrow(InputError);
    expect(() => resolveConfig({}, flags)).toThrow(message);
  });

  it('rejects unknown YAML settings and non-YAML, naming the problem', () => {
    expect(() => parseConfigYaml('frequncy: 19\n', 'agent.yaml')).toThrow(/agent.yaml: unknown setting "frequncy"/);
    expect(() => parseConfigYaml('server: [unclosed\n', 'agent.yaml')).toThrow(/not valid YAML/);
    expect(() => parseConfigYaml('- a\n- b\n')).toThrow(/mapping/);
    expect(() => resolveConfig(parseConfigYaml('relabel_configs: drop-everything\n'), {})).toThrow(/relabel_configs: expected a list/);
  });

  it('reads the config file and bearer token from disk, with clear errors when missing', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'kiln-agent-config-'));
    writeFileSync(path.join(dir, 'agent.yaml'), 'protocol: pyroscope\n');
    writeFileSync(path.join(dir, 'token'), '  s3cret\n');
    expect(resolveConfig(readConfigFile(path.join(dir, 'agent.yaml')), {}).protocol).toBe('pyroscope');
    expect(readBearerToken(path.join(dir, 'token'))).toBe('s3cret');
    expect(() => readConfigFile(path.join(dir, 'nope.yaml'))).toThrow(/cannot read --config/);
    expect(() => readBearerToken(path.join(dir, 'nope'))).toThrow(/cannot read --bearer-token-file/);
  });
});
