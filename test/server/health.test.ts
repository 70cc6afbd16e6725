import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../../src/server/server.js';
import type { RunningServer } from '../../src/server/server.js';
import { openDuckDB } from '../../src/store/index.js';
import type { Store } from '../../src/store/store.js';
import { ALL_TIME, CPU, ingest, querier } from './helpers.js';
import { distinctStacks } from './limits-payloads.js';

/**
 * Issue 8: "after DuckDB hits a full disk during a checkpoint every request answers 500 while /ready says
 * 200". A real full disk: a small tmpfs (needs root to mount), a filler file taking most of it, and a
 * low checkpoint threshold so ordinary ingests trigger the checkpoint that fails.
 */
const isRoot = process.getuid?.() === 0;
let mnt: string;
let store: Store;
let server: RunningServer;

beforeAll(async () => {
  if (!isRoot) return;
  mnt = await mkdtemp(path.join(os.tmpdir(), 'kiln-tmpfs-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=6m', 'tmpfs', mnt]);
  mkdirSync(path.join(mnt, 'data'));
  store = await openDuckDB(path.join(mnt, 'data'), { threads: 2, checkpointThreshold: '256KB', rollup: false });
  server = await startServer({ store, host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  if (!isRoot) return;
  await server?.close();
  await store?.close().catch(() => undefined);
  execFileSync('umount', [mnt]);
  await rm(mnt, { recursive: true, force: true });
});

async function total(service: string): Promise<number> {
  const r = await querier<{ flamegraph?: { total: string } }>(server.url, 'SelectMergeStacktraces', { profile_typeID: CPU, label_selector: `{service_name="${service}"}`, ...ALL_TIME });
  return Number(r.body.flamegraph?.total ?? 0);
}

describe('health tells the truth on a full disk', () => {
  it('a checkpoint failing for space → 503 with a message and /ready 503; space back → the store reopens by itself', async () => {
    expect(isRoot, 'this test mounts a small tmpfs to fill the disk: run it as root (npm run test:all does)').toBe(true);
    const filler = path.join(mnt, 'filler');
    writeFileSync(filler, Buffer.alloc(4 * 1024 * 1024));
    const payload = distinctStacks(12);
    // Each push has its own time, so a retried one is the same profile (stored once) as a client's retry would be.
    const base = Math.floor(Date.now() / 1000) - 600;
    const push = (i: number) => ingest(server.url, { name: 'disk', format: 'pprof', from: String(base + i) }, payload);
    let acknowledged = 0;
    let failed: Response | undefined;
    for (let i = 0; i < 40 && !failed; i++) {
      const res = await push(i);
      if (res.status === 200) acknowledged++;
      else failed = res;
    }
    expect(failed?.status).toBe(503);
    expect(failed!.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(((await failed!.json()) as { error: string }).error).toMatch(/disk is full|must be reopened/);
    expect((await fetch(`${server.url}/ready`)).status).toBe(503);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);

    rmSync(filler);
    let ready = 0;
    for (let i = 0; i < 60 && ready !== 200; i++) {
      await new Promise((r) => setTimeout(r, 500));
      ready = (await fetch(`${server.url}/ready`)).status;
    }
    expect(ready).toBe(200);
    // The refused push retried, as an agent does after Retry-After. Nothing acknowledged is lost, and the
    // refused one — which may have reached the WAL before the checkpoint after it failed, and so be back
    // after the reopen — is stored exactly once, however many times it is retried.
    expect((await push(acknowledged)).status).toBe(200);
    expect((await push(acknowledged)).status).toBe(200);
    expect(await total('disk')).toBe((acknowledged + 1) * 12 ** 3);
  }, 90_000);
});
