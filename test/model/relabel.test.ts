import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { InputError, labelsFrom, labelsToRecord } from '../../src/model/index.js';
import { compileRelabelConfigs, relabel } from '../../src/model/relabel.js';

/** Runs the rules of a Prometheus-style YAML snippet over a label record. */
function run(yaml: string, labels: Record<string, string>): Record<string, string> | undefined {
  const rules = compileRelabelConfigs(parse(yaml));
  const out = relabel(labelsFrom(labels), rules);
  return out && labelsToRecord(out);
}

const proc = { service_name: 'node', comm: 'node', pid: '42', namespace: 'shop-prod', __meta_kubernetes_pod_label_team: 'payments', __meta_kubernetes_pod_annotation_owner: 'alice' };

describe('relabel_configs', () => {
  it('replace: sets target from anchored regex groups, $1 and ${1}', () => {
    expect(run(`
- source_labels: [namespace]
  regex: 'shop-(.*)'
  target_label: env
  replacement: '\${1}-env'
- source_labels: [namespace, pid]
  separator: '/'
  regex: '(.*)/(\\d+)'
  target_label: instance
  replacement: '$2@$1'
`, proc)).toMatchObject({ env: 'prod-env', instance: '42@shop-prod' });
    // Anchored: 'hop-' does not match inside 'shop-prod', so nothing changes.
    expect(run(`[{source_labels: [namespace], regex: 'hop-(.*)', target_label: env}]`, proc)!.env).toBeUndefined();
  });

  it('replace: an empty result deletes the target label; defaults copy the source', () => {
    expect(run(`[{source_labels: [missing], target_label: comm}]`, proc)!.comm).toBeUndefined();
    expect(run(`[{source_labels: [comm], target_label: process}]`, proc)!.process).toBe('node');
  });

  it('keep: drops the process unless the joined source labels match', () => {
    const rule = `[{action: keep, source_labels: [namespace], regex: 'shop-.*'}]`;
    expect(run(rule, proc)).toBeDefined();
    expect(run(rule, { ...proc, namespace: 'kube-system' })).toBeUndefined();
  });

  it('drop: drops the process when the source labels match', () => {
    const rule = `[{action: drop, source_labels: [comm], regex: 'kworker.*|ksoftirqd.*'}]`;
    expect(run(rule, { ...proc, comm: 'kworker/0:1' })).toBeUndefined();
    expect(run(rule, proc)).toBeDefined();
  });

  it('labelmap: copies meta labels to new names through the replacement', () => {
    const out = run(`[{action: labelmap, regex: '__meta_kubernetes_pod_label_(.+)'}]`, proc)!;
    expect(out.team).toBe('payments');
    expect(out.__meta_kubernetes_pod_label_team).toBe('payments');
    expect(out.owner).toBeUndefined();
  });

  it('labeldrop and labelkeep: remove labels by name', () => {
    expect(Object.keys(run(`[{action: labeldrop, regex: '__meta_.*|pid'}]`, proc)!).sort()).toEqual(['comm', 'namespace', 'service_name']);
    expect(Object.keys(run(`[{action: labelkeep, regex: 'service_name|pid'}]`, proc)!).sort()).toEqual(['pid', 'service_name']);
  });

  it('hashmod: shards by the MD5 of the source value like Prometheus', () => {
    // int.from_bytes(md5(b'node').digest()[8:], 'big') % 8 == 4, computed outside Kiln (Python).
    const out = run(`[{action: hashmod, source_labels: [comm], modulus: 8, target_label: shard}]`, proc)!;
    expect(out.shard).toBe('4');
    const again = run(`[{action: hashmod, source_labels: [comm], modulus: 8, target_label: shard}]`, { ...proc, pid: '7' })!;
    expect(again.shard).toBe(out.shard);
  });

  it('lowercase, uppercase, keepequal, dropequal', () => {
    expect(run(`[{action: uppercase, source_labels: [comm], target_label: COMM}]`, proc)!.COMM).toBe('NODE');
    expect(run(`[{action: lowercase, source_labels: [x], target_label: y}]`, { ...proc, x: 'MiXeD' })!.y).toBe('mixed');
    expect(run(`[{action: keepequal, source_labels: [comm], target_label: service_name}]`, proc)).toBeDefined();
    expect(run(`[{action: dropequal, source_labels: [comm], target_label: service_name}]`, proc)).toBeUndefined();
  });

  it('understands Go named groups and ${name} references', () => {
    expect(run(`[{source_labels: [namespace], regex: '(?P<team>[a-z]+)-(?P<env>[a-z]+)', target_label: '\${env}_team', replacement: '$team'}]`, proc)!.prod_team).toBe('shop');
  });

  it('speaks RE2 as Prometheus does: inline flags anywhere, (?U), and . matching newlines', () => {
    expect(run(`[{action: keep, source_labels: [comm], regex: '(?i)NODE'}]`, proc)).toBeDefined();
    expect(run(`[{action: keep, source_labels: [comm], regex: 'NODE'}]`, proc)).toBeUndefined();
    expect(run(`[{action: keep, source_labels: [comm], regex: 'x|(?i:NO)de'}]`, proc)).toBeDefined();
    // Ungreedy: the first group takes as little as the anchored match allows.
    expect(run(`[{source_labels: [x], regex: '(?U)(a+)(a*)', target_label: y, replacement: '$1|$2'}]`, { x: 'aaa' })!.y).toBe('a|aa');
    expect(run(`[{source_labels: [x], regex: 'first.(.*)', target_label: y}]`, { x: 'first\nsecond' })!.y).toBe('second');
  });

  it('evaluates a catastrophic-backtracking regex in linear time', () => {
    const started = performance.now();
    expect(run(`[{action: keep, source_labels: [x], regex: '(a+)+$'}]`, { x: `${'a'.repeat(30)}!` })).toBeUndefined();
    expect(run(`[{action: drop, source_labels: [x], regex: '(a|aa)+'}]`, { x: `${'a'.repeat(40)}!` })).toBeDefined();
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('rejects bad rules with a message naming the rule and the problem', () => {
    expect(() => compileRelabelConfigs(parse(`[{action: explode}]`))).toThrow(/relabel_configs\[0\]: unknown action "explode"/);
    expect(() => compileRelabelConfigs(parse(`[{action: keep, source_labels: [a]}, {regex: '(unclosed'}]`))).toThrow(/relabel_configs\[1\]: regex "\(unclosed" is not valid RE2: missing closing \)/);
    expect(() => compileRelabelConfigs(parse(`[{action: keep, source_labels: [a], regex: '(a)\\1'}]`))).toThrow(/relabel_configs\[0\]: regex .* \(RE2 has no backreferences\)/);
    expect(() => compileRelabelConfigs(parse(`[{action: keep, source_labels: [a], regex: 'a(?=b)'}]`))).toThrow(InputError);
    expect(() => compileRelabelConfigs(parse(`[{action: hashmod, source_labels: [a], target_label: s}]`))).toThrow(/needs modulus/);
    expect(() => compileRelabelConfigs(parse(`[{action: replace, source_labels: [a]}]`))).toThrow(/needs target_label/);
    expect(() => compileRelabelConfigs(parse(`[{sources: [a]}]`))).toThrow(/unknown key "sources"/);
    expect(() => compileRelabelConfigs(parse(`{action: keep}`))).toThrow(/must be a list/);
  });
});
