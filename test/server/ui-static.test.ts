import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';

let srv: TestServer;
let uiDir: string;
beforeAll(async () => {
  uiDir = await mkdtemp(path.join(os.tmpdir(), 'kiln-ui-'));
  await mkdir(path.join(uiDir, 'assets'));
  await writeFile(path.join(uiDir, 'index.html'), '<!doctype html><title>Kiln UI</title>');
  await writeFile(path.join(uiDir, 'assets', 'app-1234.js'), 'console.log("kiln")');
  srv = await startTestServer({ uiDir });
});
afterAll(async () => {
  await srv?.close();
  await rm(uiDir, { recursive: true, force: true });
});

describe('static UI (uiDir)', () => {
  it('serves index.html at / and assets by path', async () => {
    const index = await fetch(`${srv.url}/`);
    expect(index.status).toBe(200);
    expect(await index.text()).toContain('<title>Kiln UI</title>');
    const js = await fetch(`${srv.url}/assets/app-1234.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toMatch(/javascript/);
  });

  it('falls back to index.html for client-side routes, but not for API paths or non-HTML clients', async () => {
    const route = await fetch(`${srv.url}/flamegraph/checkout`, { headers: { accept: 'text/html' } });
    expect(route.status).toBe(200);
    expect(await route.text()).toContain('Kiln UI');
    const api = await fetch(`${srv.url}/api/v1/nothing`, { headers: { accept: 'text/html' } });
    expect(api.status).toBe(404);
    expect(((await api.json()) as { error: string }).error).toMatch(/no route/);
    const missing = await fetch(`${srv.url}/assets/missing.js`);
    expect(missing.status).toBe(404);
  });

  it('still serves the APIs beside the UI', async () => {
    expect((await fetch(`${srv.url}/healthz`)).status).toBe(200);
    const r = await fetch(`${srv.url}/querier.v1.QuerierService/ProfileTypes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(r.status).toBe(200);
  });
});
