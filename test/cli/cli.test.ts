import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runKiln, startKilnServer } from '../support/cli.js';
import type { CliServer } from '../support/cli.js';
import { requireTestdata } from '../support/testdata.js';

/**
 * The CLI as a user drives it: a real `kiln server` process, files pushed with `kiln ingest`, answers
 * read with `kiln query`, a restart in between, and exit codes a script can branch on.
 */
const CPU = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds';
const SAMPLES = 'process_cpu:samples:count:cpu:nanoseconds';
const MS10 = 10_000_000;
const FOLDED = `main;gc ${10 * MS10}\nmain;handle;parse ${30 * MS10}\nmain;handle;render ${60 * MS10}\n`;

let dir: string;
let dataDir: string;
let server: CliServer;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'kiln-cli-'));
  dataDir = path.join(dir, 'data');
  // The corpus files date from 2021-2023: past the default 30d retention, which refuses them (issue 8).
  server = await startKilnServer(['--data-dir', dataDir, '--retention', '0']);
});

afterAll(async () => {
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('kiln CLI against a real server', () => {
  it('ingests a folded file and a pprof, and answers top, flamegraph, labels and types', async () => {
    const folded = path.join(dir, 'app.folded');
    await writeFile(folded, 'main;handle;parse 30\nmain;handle;render 60\nmain;gc 10\n');
    const pprof = path.join(requireTestdata('pprof'), 'pyroscope-cpu.pprof');

    const a = await runKiln(['ingest', folded, '--labels', 'service_name=shop,env=prod', '--url', server.url]);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stderr).toContain('[1/1]');
    const b = await runKiln(['ingest', pprof, '--labels', 'service_name=gosvc', '--url', server.url]);
    expect(b.code, b.stderr).toBe(0);

    // Folded counts are samples; like Pyroscope, the server reads them as CPU at 100 Hz (10 ms each).
    const top = await runKiln(['query', 'top', `${CPU}{service_name="shop"}`, '--json', '--url', server.url]);
    expect(top.code, top.stderr).toBe(0);
    const table = JSON.parse(top.stdout) as { total: number; entries: { name: string; self: number; total: number }[] };
    expect(table.total).toBe(100 * MS10);
    expect(table.entries[0]).toMatchObject({ name: 'render', self: 60 * MS10, total: 60 * MS10 });
    expect(table.entries.find((e) => e.name === 'handle')).toMatchObject({ self: 0, total: 90 * MS10 });

    const text = await runKiln(['query', 'top', `${CPU}{service_name="shop"}`, '--url', server.url]);
    expect(text.stdout).toMatch(/SELF\s+SELF%\s+TOTAL\s+TOTAL%\s+FUNCTION/);
    expect(text.stdout).toMatch(/0\.60s\s+60\.00%\s+0\.60s\s+60\.00%\s+render/);

    const fg = await runKiln(['query', 'flamegraph', `${CPU}{service_name="shop"}`, '--format', 'folded', '--url', server.url]);
    expect(fg.stdout).toBe(FOLDED);

    const names = await runKiln(['labels', 'service_name', '--from', '0', '--url', server.url]);
    expect(names.stdout.trim().split('\n')).toEqual(['gosvc', 'shop']);
    const types = await runKiln(['types', '--from', '0', '--url', server.url]);
    expect(types.stdout).toContain(CPU);
    expect(types.stdout).toContain(SAMPLES);
  });

  it('keeps everything acknowledged across a server restart', async () => {
    expect(await server.stop()).toBe(0);
    server = await startKilnServer(['--data-dir', dataDir, '--retention', '0']);
    const fg = await runKiln(['query', 'flamegraph', `${CPU}{service_name="shop"}`, '--url', server.url]);
    expect(fg.code, fg.stderr).toBe(0);
    expect(fg.stdout).toBe(FOLDED);
  });

  it('exports pprof that decodes back to the same totals', async () => {
    const out = path.join(dir, 'shop.pb.gz');
    const r = await runKiln(['export', `${CPU}{service_name="shop"}`, '-o', out, '--url', server.url]);
    expect(r.code, r.stderr).toBe(0);
    const back = await runKiln(['ingest', out, '--labels', 'service_name=shop_copy', '--url', server.url]);
    expect(back.code, back.stderr).toBe(0);
    // The export is stamped with its range's start (now-1h at export time), so look a little further back.
    const top = await runKiln(['query', 'top', `${CPU}{service_name="shop_copy"}`, '--from', 'now-2h', '--json', '--url', server.url]);
    expect((JSON.parse(top.stdout) as { total: number }).total).toBe(100 * MS10);
  });

  it('ingests an OTLP capture under the services its resource attributes name', async () => {
    const capture = path.join(requireTestdata('otlp'), 'otel-ebpf-profile.pb.bin');
    const r = await runKiln(['ingest', capture, '--url', server.url]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('otlp');
    const names = await runKiln(['labels', 'service_name', '--from', '0', '--url', server.url]);
    expect(names.stdout.split('\n')).toContain('unknown_service:containerd');
    expect(names.stdout).not.toContain('otel-ebpf-profile');
  });

  it('diffs two label sets and sorts functions by change', async () => {
    const v1 = path.join(dir, 'v1.folded');
    const v2 = path.join(dir, 'v2.folded');
    await writeFile(v1, 'main;parse 50\nmain;render 50\n');
    await writeFile(v2, 'main;parse 20\nmain;render 90\n');
    for (const [file, version] of [[v1, '1.4'], [v2, '1.5']] as const) {
      const r = await runKiln(['ingest', file, '--labels', `service_name=web,version=${version}`, '--url', server.url]);
      expect(r.code, r.stderr).toBe(0);
    }
    const r = await runKiln([
      'query', 'diff', '--base', `${CPU}{service_name="web",version="1.4"}@1h`, '--head', `${CPU}{service_name="web",version="1.5"}@1h`,
      '--json', '--url', server.url,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const { table } = JSON.parse(r.stdout) as { table: { baseTotal: number; headTotal: number; entries: { name: string; selfChange: number }[] } };
    expect(table.baseTotal).toBe(100 * MS10);
    expect(table.headTotal).toBe(110 * MS10);
    expect(table.entries.slice(0, 2).map((e) => [e.name, e.selfChange])).toEqual([['render', 40 * MS10], ['parse', -30 * MS10]]);
    const text = await runKiln(['query', 'diff', '--base', `${CPU}{version="1.4"}@1h`, '--head', `${CPU}{version="1.5"}@1h`, '--url', server.url]);
    expect(text.stdout).toMatch(/\+0\.40s\s+0\.50s\s+0\.90s\s+render/);
  });

  it('exits 2 with a message for input the user must fix', async () => {
    const badSelector = await runKiln(['query', 'top', `${CPU}{service_name=}`, '--url', server.url]);
    expect(badSelector.code).toBe(2);
    expect(badSelector.stderr).toMatch(/column/);

    const missing = await runKiln(['ingest', path.join(dir, 'nope.pb.gz'), '--url', server.url]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no such file');

    const garbage = path.join(dir, 'garbage.pb');
    await writeFile(garbage, Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x01, 0x02]));
    const bad = await runKiln(['ingest', garbage, '--format', 'pprof', '--url', server.url]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/server rejected the request \(4\d\d\)/);

    const badRange = await runKiln(['query', 'top', `${CPU}{}`, '--from', 'now', '--until', 'now-1h', '--url', server.url]);
    expect(badRange.code).toBe(2);

    const unknownFlag = await runKiln(['query', 'top', '--bogus']);
    expect(unknownFlag.code).toBe(2);
  });

  it('kiln server refuses a bad size or a unitless retention with exit 2, before creating the data directory', async () => {
    const target = path.join(dir, 'never-created');
    const res = await runKiln(['server', '--port', '0', '--data-dir', target, '--max-body', 'lots']);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/"lots" is not a size/);
    await expect(stat(target)).rejects.toThrow(/ENOENT/);
    // A bare number would be seconds, and retention deletes at start-up: it needs a unit.
    const bareRetention = await runKiln(['server', '--port', '0', '--data-dir', target, '--retention', '30']);
    expect(bareRetention.code).toBe(2);
    expect(bareRetention.stderr).toMatch(/--retention 30 has no unit/);
    await expect(stat(target)).rejects.toThrow(/ENOENT/);
  });

  it('exits 1 when the server cannot be reached', async () => {
    const r = await runKiln(['types', '--url', 'http://127.0.0.1:9']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('cannot reach kiln server');
  });

  // The verbs run side by side: each is a tsx start-up of the whole CLI (≈ 4 s of CPU on a quiet 2-core
  // host), and ten in a row outlasted the test's minute on a busy one.
  it('documents every verb with --help', async () => {
    const verbs = [['server'], ['agent'], ['ingest'], ['query', 'top'], ['query', 'flamegraph'], ['query', 'series'], ['query', 'diff'], ['labels'], ['types'], ['export']];
    const results = await Promise.all(verbs.map((verb) => runKiln([...verb, '--help'], { timeoutMs: 170_000 })));
    verbs.forEach((verb, i) => {
      expect(results[i].code, verb.join(' ')).toBe(0);
      expect(results[i].stdout).toContain(`Usage: kiln ${verb.join(' ')}`);
    });
  }, 180_000);
});
