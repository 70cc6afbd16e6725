import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Function as PprofFunction, Line, Location, Profile as PprofProfile, Sample, StringTable, ValueType } from 'pprof-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';
import { ALL_TIME, ingest, querier } from './helpers.js';

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(async () => {
  await srv?.close();
});

/** A pprof as Go's runtime writes it: the given sample types and period type, one stack main→work with `values`. */
function goPprof(sampleTypes: [string, string][], period: [string, string], values: number[]): Uint8Array {
  const st = new StringTable();
  const fns = ['main', 'work'].map((name, i) => new PprofFunction({ id: i + 1, name: st.dedup(name) }));
  const locs = fns.map((f) => new Location({ id: f.id, line: [new Line({ functionId: f.id })] }));
  return new PprofProfile({
    sampleType: sampleTypes.map(([t, u]) => new ValueType({ type: st.dedup(t), unit: st.dedup(u) })),
    periodType: new ValueType({ type: st.dedup(period[0]), unit: st.dedup(period[1]) }),
    period: 1,
    timeNanos: BigInt(Date.now() - 10_000) * 1_000_000n,
    function: fns,
    location: locs,
    // Leaf first, as pprof orders a stack.
    sample: [new Sample({ locationId: [2, 1], value: values })],
    stringTable: st,
  }).encode();
}

/** The multipart upload of the Pyroscope Go SDK: `profile` (+ `prev_profile`) and `sample_type_config` files. */
async function upload(app: string, profile: Uint8Array, config?: object, prev?: Uint8Array): Promise<Response> {
  const form = new FormData();
  form.append('profile', new Blob([profile as Uint8Array<ArrayBuffer>]), 'profile.pprof');
  if (prev) form.append('prev_profile', new Blob([prev as Uint8Array<ArrayBuffer>]), 'profile.pprof');
  if (config) form.append('sample_type_config', new Blob([JSON.stringify(config)]), 'sample_type_config.json');
  const now = Math.floor(Date.now() / 1000);
  return ingest(srv.url, { name: `${app}{env=test}`, spyName: 'gospy', sampleRate: '100', from: String(now - 10), until: String(now) }, form);
}

async function typesOf(app: string): Promise<string[]> {
  const r = await querier<{ profileTypes?: { ID: string }[] }>(srv.url, 'ProfileTypes', ALL_TIME);
  expect(r.status).toBe(200);
  // ProfileTypes lists every service's; read the app's own through Series.
  const series = await querier<{ labelsSet?: { labels: { name: string; value: string }[] }[] }>(srv.url, 'Series', {
    matchers: [`{service_name="${app}"}`], labelNames: ['__profile_type__'], ...ALL_TIME,
  });
  const ids = (series.body.labelsSet ?? []).map((s) => s.labels.find((l) => l.name === '__profile_type__')?.value ?? '');
  for (const id of ids) expect(r.body.profileTypes?.map((t) => t.ID)).toContain(id);
  return ids.sort();
}

const CONTENTIONS: [string, string][] = [['contentions', 'count'], ['delay', 'nanoseconds']];

describe('Pyroscope SDK profiles get the profile type ids Pyroscope gives them', () => {
  it('a Go block profile is block:… with its sample types kept (display-name only picks the name)', async () => {
    const config = { contentions: { units: 'lock_samples', 'display-name': 'block_count' }, delay: { units: 'lock_nanoseconds', 'display-name': 'block_duration' } };
    const res = await upload('go-block', goPprof(CONTENTIONS, ['contentions', 'count'], [3, 4500]), config);
    expect(res.status, await res.clone().text()).toBe(200);
    expect(await typesOf('go-block')).toEqual(['block:contentions:count:contentions:count', 'block:delay:nanoseconds:contentions:count']);
    const fg = await querier<{ flamegraph: { total: string } }>(srv.url, 'SelectMergeStacktraces', {
      profile_typeID: 'block:delay:nanoseconds:contentions:count', label_selector: '{service_name="go-block"}', ...ALL_TIME,
    });
    expect(fg.body.flamegraph.total).toBe('4500');
  });

  it('a Go mutex profile is mutex:… and goroutines are goroutines:goroutine:count:goroutine:count', async () => {
    const mutex = { contentions: { units: 'lock_samples', 'display-name': 'mutex_count' }, delay: { units: 'lock_nanoseconds', 'display-name': 'mutex_duration' } };
    expect((await upload('go-mutex', goPprof(CONTENTIONS, ['contentions', 'count'], [2, 900]), mutex)).status).toBe(200);
    expect(await typesOf('go-mutex')).toEqual(['mutex:contentions:count:contentions:count', 'mutex:delay:nanoseconds:contentions:count']);
    const goroutines = { goroutine: { units: 'goroutines', aggregation: 'average', 'display-name': 'goroutines' } };
    expect((await upload('go-goroutines', goPprof([['goroutine', 'count']], ['goroutine', 'count'], [12]), goroutines)).status).toBe(200);
    expect(await typesOf('go-goroutines')).toEqual(['goroutines:goroutine:count:goroutine:count']);
  });

  it('a blank period type stays blank: process_cpu:cpu:nanoseconds::nanoseconds, and can be queried by that id', async () => {
    expect((await upload('blank-period', goPprof([['cpu', 'nanoseconds']], ['', 'nanoseconds'], [7_000_000]))).status).toBe(200);
    expect(await typesOf('blank-period')).toEqual(['process_cpu:cpu:nanoseconds::nanoseconds']);
    const fg = await querier<{ flamegraph: { total: string } }>(srv.url, 'SelectMergeStacktraces', {
      profile_typeID: 'process_cpu:cpu:nanoseconds::nanoseconds', label_selector: '{service_name="blank-period"}', ...ALL_TIME,
    });
    expect(fg.body.flamegraph.total).toBe('7000000');
  });

  it('refuses a cumulative upload with a prev_profile part (422, Pyroscope\'s message) and stores nothing', async () => {
    const p = goPprof([['cpu', 'nanoseconds']], ['cpu', 'nanoseconds'], [5]);
    const res = await upload('old-sdk', p, undefined, p);
    expect(res.status).toBe(422);
    expect(((await res.json()) as { error: string }).error).toBe(
      'unsupported client version. Please update github.com/grafana/pyroscope-go to the latest version',
    );
    expect(await typesOf('old-sdk')).toEqual([]);
  });
});

describe('Java agent uploads in JFR', () => {
  it('format=jfr is decoded (a real recording: jfr-ingest.test.ts); a truncated one is 400 naming JFR, raw or multipart, storing nothing', async () => {
    const jfrMagic = Uint8Array.from([0x46, 0x4c, 0x52, 0x00, 0x00, 0x02, 0x00, 0x01]); // "FLR\0", JFR 2.1, and no more
    const now = Math.floor(Date.now() / 1000);
    const params = { name: 'java-app.itimer{env=test}', format: 'jfr', spyName: 'javaspy', sampleRate: '100', from: String(now - 10), until: String(now) };
    const raw = await ingest(srv.url, params, jfrMagic, { 'content-type': 'application/octet-stream' });
    expect(raw.status).toBe(400);
    expect(((await raw.json()) as { error: string }).error).toMatch(/malformed JFR: a chunk header needs 68 bytes, 8 left \(truncated\?\)/);
    // The agent's multipart form: a `jfr` part and a `labels` part.
    const form = new FormData();
    form.append('jfr', new Blob([jfrMagic]), 'jfr');
    const multipart = await ingest(srv.url, params, form);
    expect(multipart.status).toBe(400);
    expect(await typesOf('java-app')).toEqual([]);
  });

  it('the Java agent in collapsed format (PYROSCOPE_FORMAT=collapsed) is stored as CPU time', async () => {
    const now = Math.floor(Date.now() / 1000);
    const res = await ingest(srv.url, {
      name: 'java-collapsed.itimer{env=test}', spyName: 'javaspy', units: 'samples', aggregationType: 'sum', sampleRate: '100', from: String(now - 10), until: String(now),
    }, 'java/lang/Thread.run;com/example/App.work 3\n');
    expect(res.status, await res.clone().text()).toBe(200);
    expect(await typesOf('java-collapsed')).toEqual(['process_cpu:cpu:nanoseconds:cpu:nanoseconds']);
    const fg = await querier<{ flamegraph: { total: string } }>(srv.url, 'SelectMergeStacktraces', {
      profile_typeID: 'process_cpu:cpu:nanoseconds:cpu:nanoseconds', label_selector: '{service_name="java-collapsed"}', ...ALL_TIME,
    });
    // 3 samples at 100 Hz = 30 ms of CPU.
    expect(fg.body.flamegraph.total).toBe('30000000');
  });

  it('collapsed .wall, allocation and lock uploads get Pyroscope\'s ids, typed by the name\'s suffix', async () => {
    const now = Math.floor(Date.now() / 1000);
    const window = { spyName: 'javaspy', aggregationType: 'sum', from: String(now - 10), until: String(now) };
    const folded = 'java/lang/Thread.run;com/example/App.work 4\n';
    const uploads: [string, string, string][] = [
      ['wall', 'samples', 'wall:wall:nanoseconds:cpu:nanoseconds'],
      ['alloc_in_new_tlab_objects', 'objects', 'memory:alloc_in_new_tlab_objects:count::'],
      ['alloc_in_new_tlab_bytes', 'bytes', 'memory:alloc_in_new_tlab_bytes:bytes::'],
      ['alloc_outside_tlab_bytes', 'bytes', 'memory:alloc_outside_tlab_bytes:bytes::'],
      ['lock_count', 'lock_samples', 'block:contentions:count::'],
      ['lock_duration', 'lock_nanoseconds', 'block:delay:nanoseconds::'],
    ];
    for (const [suffix, units] of uploads) {
      const res = await ingest(srv.url, { name: `java-events.${suffix}{env=test}`, units, sampleRate: '100', ...window }, folded);
      expect(res.status, await res.clone().text()).toBe(200);
    }
    // One service (the suffix is not part of its name), one id per upload.
    expect(await typesOf('java-events')).toEqual(uploads.map(([, , id]) => id).sort());
    const total = async (id: string): Promise<string> => {
      const fg = await querier<{ flamegraph: { total: string } }>(srv.url, 'SelectMergeStacktraces', { profile_typeID: id, label_selector: '{service_name="java-events"}', ...ALL_TIME });
      return fg.body.flamegraph.total;
    };
    // Wall samples are time (4 at 100 Hz = 40 ms); bytes and lock counts stay as sent.
    expect(await total('wall:wall:nanoseconds:cpu:nanoseconds')).toBe('40000000');
    expect(await total('memory:alloc_in_new_tlab_bytes:bytes::')).toBe('4');
    expect(await total('block:contentions:count::')).toBe('4');
  });
});

describe('.NET, Ruby and Python uploads (the corpus files Pyroscope\'s own tests use)', () => {
  const corpus = (file: string) => readFileSync(path.resolve(process.cwd(), '../shared/testdata/pprof', file));

  async function uploadFile(app: string, spyName: string, body: Uint8Array): Promise<void> {
    const now = Math.floor(Date.now() / 1000);
    const res = await ingest(srv.url, { name: `${app}.cpu{env=test}`, format: 'pprof', spyName, from: String(now - 10), until: String(now), restamp: '1' }, body);
    expect(res.status, await res.clone().text()).toBe(200);
  }

  it('.NET: one id per sample type with the file\'s own period, blank for the older agent', async () => {
    await uploadFile('dotnet-app', 'dotnetspy', corpus('pyroscope-dotnet.labels.pprof'));
    expect(await typesOf('dotnet-app')).toEqual([
      'memory:alloc_samples:count:cpu:nanoseconds', 'memory:alloc_size:bytes:cpu:nanoseconds', 'process_cpu:cpu:nanoseconds:cpu:nanoseconds',
    ]);
    await uploadFile('dotnet-old', 'dotnetspy', corpus('pyroscope-dotnet-pprof-3.pb.gz'));
    expect(await typesOf('dotnet-old')).toEqual(['process_cpu:cpu:nanoseconds::nanoseconds']);
  });

  it('Ruby pprof keeps its samples:count type and blank period: process_cpu:samples:count::milliseconds', async () => {
    await uploadFile('ruby-app', 'rbspy', corpus('pyroscope-profile_ruby'));
    expect(await typesOf('ruby-app')).toEqual(['process_cpu:samples:count::milliseconds']);
  });

  it('Python (pyroscope-rs folded, name=app.cpu, sampleRate=100) is process_cpu:cpu:nanoseconds:cpu:nanoseconds', async () => {
    const now = Math.floor(Date.now() / 1000);
    const res = await ingest(srv.url, { name: 'py-app.cpu{env=test}', spyName: 'pyspy', sampleRate: '100', from: String(now - 10), until: String(now) }, 'main.py:<module>;app.py:work 5\n');
    expect(res.status).toBe(200);
    expect(await typesOf('py-app')).toEqual(['process_cpu:cpu:nanoseconds:cpu:nanoseconds']);
  });
});
