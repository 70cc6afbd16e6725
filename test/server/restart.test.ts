import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startTestServer } from '../support/server.js';
import { CPU, ingest } from './helpers.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('restart durability through the server', () => {
  it('keeps everything acknowledged across close and restart on the same data dir', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'kiln-restart-'));
    dirs.push(dataDir);
    const first = await startTestServer({ dataDir });
    const res = await ingest(first.url, { name: 'durable{env=prod}', format: 'folded', profile_type: CPU }, 'main;save 11\nmain;load 4\n');
    expect(res.status).toBe(200);
    await first.close();

    const second = await startTestServer({ dataDir });
    try {
      const out = await fetch(`${second.url}/api/v1/flamegraph?${new URLSearchParams({ query: `${CPU}{service_name="durable", env="prod"}`, format: 'folded', from: 'now-1d', until: 'now+1d' })}`);
      expect(out.status).toBe(200);
      expect(await out.text()).toBe('main;load 4\nmain;save 11\n');
    } finally {
      await second.close();
    }
  });
});
