import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../src/agent/agent.js';
import { parseConfigYaml, resolveConfig } from '../../src/agent/config.js';
import { decodeOtlpProtobuf } from '../../src/formats/otlp.js';
import { labelsToRecord, type Profile } from '../../src/model/index.js';
import { requireBpf } from './require-bpf.js';

let agent: RunningAgent | undefined;
let sink: http.Server | undefined;
afterAll(async () => {
  await agent?.stop(1000);
  sink?.close();
});

describe('agent with a YAML config (real eBPF)', () => {
  it('labels every process and applies relabel_configs from the file before sending', { timeout: 60_000 }, async () => {
    requireBpf();
    const received: Profile[] = [];
    sink = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push(...decodeOtlpProtobuf(gunzipSync(Buffer.concat(chunks))));
        res.end();
      });
    });
    await new Promise<void>((r) => sink!.listen(0, '127.0.0.1', r));
    const yaml = [
      `server: http://127.0.0.1:${(sink.address() as AddressInfo).port}`,
      // The sink reads OTLP (the rows push is the default).
      'protocol: otlp',
      'interval: 2s',
      'frequency: 99',
      'metrics_port: -1',
      'node_name: proof-node',
      'relabel_configs:',
      '  - source_labels: [comm]',
      '    regex: kiln-relabel-me',
      '    action: keep',
      '  - source_labels: [comm]',
      '    target_label: team',
      '    replacement: profiling',
    ].join('\n');
    agent = await startAgent(resolveConfig(parseConfigYaml(yaml), {}), { log: () => undefined });
    // A busy process with a comm of our choosing (node sets its thread name from process.title).
    const busy = spawn(process.execPath, ['-e', "process.title = 'kiln-relabel-me'; const end = Date.now() + 3000; while (Date.now() < end) {}"], { stdio: 'ignore' });
    await new Promise((r) => busy.once('exit', r));
    await agent.stop(10_000);
    agent = undefined;

    expect(received.length, 'profiles of the kept process arrive').toBeGreaterThan(0);
    const labels = received.map((p) => labelsToRecord(p.labels));
    // keep: only the process named kiln-relabel-me, out of everything running on this host.
    expect(new Set(labels.map((l) => l.comm))).toEqual(new Set(['kiln-relabel-me']));
    for (const l of labels) {
      expect(l).toMatchObject({ pid: String(busy.pid), node: 'proof-node', team: 'profiling' });
      expect(l.service_name, 'service_name is always set').toBeTruthy();
    }
  });
});
