import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Exporter } from '../../src/agent/exporter.js';
import type { Protocol } from '../../src/agent/exporter-wire.js';
import { encodeOtlpProtobuf } from '../../src/formats/otlp.js';
import { CPU_TYPE, DictionaryBuilder, labelsFrom, labelsToRecord, type Profile } from '../../src/model/index.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { CPU, foldedForPid } from './proof-support.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server.close();
});

/** What the agent builds for one process: kernel frame on top of user frames, CPU ns values. */
function agentProfile(pid: number, nowMs: number): Profile {
  const b = new DictionaryBuilder();
  const bin = b.mapping('/opt/app/bin/app', 'abc123');
  const kernel = b.mapping('[kernel.kallsyms]');
  const fr = (name: string, m: number) => b.location(m, 0x1000n, [{ function: b.function(name), line: 0 }]);
  const hot = b.stack([fr('do_syscall_64', kernel), fr('burn_a', bin), fr('main', bin)]);
  const cool = b.stack([fr('burn_b', bin), fr('main', bin)]);
  const period = 1e9 / 19;
  return {
    type: CPU_TYPE,
    labels: labelsFrom({ service_name: 'app', pid: String(pid), comm: 'app', node: 'n1' }),
    timeMs: nowMs - 10_000,
    durationNs: 10e9,
    period,
    dict: b.dict,
    stacks: [hot, cool],
    values: [Math.round(70 * period), Math.round(30 * period)],
  };
}

describe.each<Protocol>(['otlp', 'pyroscope', 'kiln'])('agent → real Kiln server over %s', (protocol) => {
  it('stores what the agent sends, stacks and labels intact', async () => {
    const pid = { otlp: 4242, pyroscope: 4343, kiln: 4444 }[protocol];
    const now = Date.now();
    const failures: string[] = [];
    const ex = new Exporter(
      { server: server.url, protocol, frequencyHz: 19, timeoutMs: 30_000, otlpEncoder: encodeOtlpProtobuf, queue: { maxItems: 10, maxBytes: 1e7, initialBackoffMs: 10, maxBackoffMs: 100 } },
      { failed: (_r, e) => failures.push(e) },
    );
    ex.submit([agentProfile(pid, now)], { startMs: now - 10_000, endMs: now });
    expect(await ex.flush(30_000)).toBe(true);
    ex.close();
    expect(failures).toEqual([]);

    const folded = await foldedForPid(server.url, pid);
    const byStack = Object.fromEntries([...folded].map(([k, v]) => [k, Math.round((v * 19) / 1e9)]));
    expect(byStack).toEqual({ 'main;burn_a;do_syscall_64': 70, 'main;burn_b': 30 });
    const series = await server.store.series({
      tenant: 'anonymous',
      selector: { profileType: CPU, matchers: [{ name: 'pid', op: '=', value: String(pid) }] },
      from: now - 3_600_000,
      to: now + 60_000,
    });
    expect(series).toHaveLength(1);
    expect(labelsToRecord(series[0]!.labels)).toMatchObject({ service_name: 'app', pid: String(pid), comm: 'app', node: 'n1' });
  });
});
