import { describe, expect, it } from 'vitest';
import { parseServerConfig } from '../../src/config/server-config.js';
import type { ScrapeConfig } from '../../src/scrape/config.js';

/** The one job of a scrape_configs YAML snippet, as the server reads it from kiln.yaml. */
function job(yaml: string): ScrapeConfig {
  const jobs = parseServerConfig(`scrape_configs:\n${yaml}`).scrapeConfigs ?? [];
  expect(jobs).toHaveLength(1);
  return jobs[0]!;
}

/** What the user sees per target: URL and stored labels, by profile name. */
function byProfile(cfg: ScrapeConfig): Record<string, { url: string; labels: Readonly<Record<string, string>> }> {
  return Object.fromEntries(cfg.targets.map((t) => [`${t.labels['instance']} ${t.endpoint.name}`, { url: t.url, labels: t.labels }]));
}

describe('scrape_configs relabel_configs (Prometheus semantics over discovered target labels)', () => {
  it('without rules: job, instance (the address) and service_name (the job) are set, __ labels are not stored', () => {
    const cfg = job(`  - job_name: api
    scrape_interval: 10s
    static_configs: [ { targets: ["10.0.0.5:6060"], labels: { env: prod } } ]
`);
    expect(byProfile(cfg)).toEqual({
      '10.0.0.5:6060 process_cpu': { url: 'http://10.0.0.5:6060/debug/pprof/profile?seconds=9', labels: { env: 'prod', instance: '10.0.0.5:6060', job: 'api', service_name: 'api' } },
      '10.0.0.5:6060 memory': { url: 'http://10.0.0.5:6060/debug/pprof/allocs', labels: { env: 'prod', instance: '10.0.0.5:6060', job: 'api', service_name: 'api' } },
    });
    expect(cfg.targets[0]!.discoveredLabels).toMatchObject({ __address__: '10.0.0.5:6060', __scheme__: 'http', __profile_path__: '/debug/pprof/profile', __name__: 'process_cpu', __scrape_interval__: '10s', job: 'api' });
  });

  it('replace with $1 and ${1}, labelmap, labeldrop, lowercase, and a rewritten address, scheme, path and query', () => {
    const cfg = job(`  - job_name: shop
    static_configs: [ { targets: ["Checkout.internal:6060"], labels: { __meta_team: Payments, zone: eu-west-1a } } ]
    profiling_config: { pprof_config: { memory: { enabled: false } } }
    relabel_configs:
      - { source_labels: [zone], regex: '([a-z]+)-([a-z]+)-\\d+[a-z]', target_label: region, replacement: '\${1}-$2' }
      - { action: labelmap, regex: '__meta_(.+)' }
      - { action: lowercase, source_labels: [team], target_label: team }
      - { action: labeldrop, regex: zone }
      - { source_labels: [__address__], regex: '([^.]+)\\..*:(\\d+)', target_label: __address__, replacement: '$1.svc:$2' }
      - { target_label: __scheme__, replacement: https }
      - { target_label: __profile_path__, replacement: /pprof/cpu }
      - { target_label: __param_debug, replacement: '0' }
`);
    const [t] = cfg.targets;
    expect(cfg.targets).toHaveLength(1);
    expect(t!.url).toBe('https://Checkout.svc:6060/pprof/cpu?debug=0&seconds=14');
    expect(t!.labels).toEqual({ instance: 'Checkout.svc:6060', job: 'shop', region: 'eu-west', service_name: 'shop', team: 'payments' });
  });

  it('keep and drop remove targets or single profiles; what they removed is listed', () => {
    const cfg = job(`  - job_name: fleet
    static_configs: [ { targets: ["a:1", "b:1", "c:1"] } ]
    relabel_configs:
      - { action: drop, source_labels: [__address__], regex: 'b:.*' }
      - { action: keep, source_labels: [__address__, __name__], separator: '|', regex: 'a:1\\|.*|c:1\\|memory' }
`);
    expect(Object.keys(byProfile(cfg)).sort()).toEqual(['a:1 memory', 'a:1 process_cpu', 'c:1 memory']);
    expect(cfg.droppedTargets.map((d) => `${d['__address__']} ${d['__name__']}`).sort()).toEqual(['b:1 memory', 'b:1 process_cpu', 'c:1 process_cpu']);
  });

  it('hashmod shards targets the way Prometheus does, and a rule may set instance, job and service_name', () => {
    const cfg = job(`  - job_name: shard
    static_configs: [ { targets: ["a:1", "b:1", "c:1", "d:1"] } ]
    profiling_config: { pprof_config: { memory: { enabled: false } } }
    relabel_configs:
      - { action: hashmod, source_labels: [__address__], modulus: 2, target_label: __tmp_shard }
      - { action: keep, source_labels: [__tmp_shard], regex: '0' }
      - { source_labels: [__address__], regex: '(.*):1', target_label: instance, replacement: 'host-$1' }
      - { target_label: service_name, replacement: sharded-app }
`);
    // Prometheus' hashmod: the low 8 bytes of MD5(value), big-endian, mod 2: a:1 0, b:1 0, c:1 1, d:1 0.
    expect(cfg.targets.map((t) => t.labels['instance'])).toEqual(['host-a', 'host-b', 'host-d']);
    expect(cfg.droppedTargets.map((d) => d['__address__'])).toEqual(['c:1']);
    for (const t of cfg.targets) expect(t.labels).toEqual({ instance: t.labels['instance'], job: 'shard', service_name: 'sharded-app' });
  });

  it('refuses, naming the job and rule, a rule that cannot work or a target it leaves unusable', () => {
    const bad = (rules: string) => () => job(`  - job_name: j
    static_configs: [ { targets: ["h:1"] } ]
    relabel_configs:
${rules}`);
    expect(bad("      - { action: sometimes }\n")).toThrow(/scrape_configs\[0\]\.relabel_configs\[0\]: unknown action "sometimes"/);
    expect(bad("      - { regex: '(' }\n")).toThrow(/scrape_configs\[0\]\.relabel_configs\[0\]/);
    expect(bad("      - { action: hashmod, target_label: x }\n")).toThrow(/hashmod needs modulus/);
    expect(bad("      - { target_label: __address__, replacement: 'no-port' }\n")).toThrow(/scrape_configs\[0\]: job "j", target h:1 \(process_cpu\): after relabel_configs, __address__ "no-port" is not host:port/);
    expect(bad("      - { target_label: __scheme__, replacement: ftp }\n")).toThrow(/__scheme__ "ftp" is not http or https/);
    expect(bad("      - { target_label: __profile_path__, replacement: 'x' }\n")).toThrow(/__profile_path__ "x" is not an absolute path/);
    expect(bad("      - { target_label: __scrape_interval__, replacement: soon }\n")).toThrow(/__scrape_interval__ "soon" is not a positive duration/);
  });

  it("profiling_config: Parca's path_prefix moves every profile; keys Kiln does not read are refused", () => {
    const cfg = job(`  - job_name: routed
    static_configs: [ { targets: ["h:1"] } ]
    profiling_config:
      path_prefix: /internal/
      pprof_config: { memory: { path: /debug/pprof/heap } }
`);
    expect(cfg.targets.map((t) => t.url).sort()).toEqual(['http://h:1/internal/debug/pprof/heap', 'http://h:1/internal/debug/pprof/profile?seconds=14']);
    const bad = (profiling: string) => () => job(`  - job_name: j\n    static_configs: [ { targets: ["h:1"] } ]\n    profiling_config: ${profiling}\n`);
    expect(bad('{ pprof_confg: {} }')).toThrow(/profiling_config\.pprof_confg is not supported/);
    expect(bad('{ pprof_config: { memory: { seconds: 5 } } }')).toThrow(/pprof_config\.memory\.seconds is not supported \(known: enabled, path, delta\)/);
    expect(bad('{ path_prefix: internal }')).toThrow(/path_prefix must be an absolute path/);
  });
});
