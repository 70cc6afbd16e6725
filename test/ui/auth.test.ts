import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';
import { TOKENS, authConfig, bearer } from '../server/auth-support.js';
import { ensureUiBuilt, launchChromium } from './browser.js';

/**
 * The web UI against a server with `auth:`, in real Chromium: it asks for a token before showing
 * anything, says who is signed in, and shows only what the token's scope allows.
 */
const CPU = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds';
let server: TestServer;
let browser: Browser;
let page: Page;
let viewUrl: string;

beforeAll(async () => {
  const uiDir = ensureUiBuilt();
  const config = authConfig();
  server = await startTestServer({ uiDir, config: () => config });
  const nowS = Math.floor(Date.now() / 1000);
  for (const [name, body] of [
    ['shop-cart{namespace=shop-a}', 'main;shopCartFn 10\n'],
    ['bank-ledger{namespace=bank}', 'main;secretBankFn 20\n'],
  ]) {
    const q = new URLSearchParams({ name: name!, format: 'folded', profile_type: CPU, from: String(nowS - 300), until: String(nowS - 290) });
    const res = await fetch(`${server.url}/ingest?${q}`, { method: 'POST', headers: { ...bearer(TOKENS.admin), 'x-scope-orgid': 'acme' }, body });
    expect(res.status).toBe(200);
  }
  const view = new URLSearchParams({ type: CPU, query: '{}', view: 'table', from: String((nowS - 900) * 1000), until: String((nowS + 60) * 1000) });
  viewUrl = `${server.url}/?${view}`;
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

describe('UI sign-in on a server with auth:', () => {
  it('asks for a token first, and refuses a wrong one with the server\'s reason', async () => {
    await page.goto(viewUrl);
    await page.locator('[data-testid="sign-in"]').waitFor({ timeout: 15_000 });
    expect(await page.locator('[data-testid="top-table"]').count()).toBe(0);
    await page.fill('[aria-label="token"]', 'kiln_wrong');
    await page.click('button[type="submit"]');
    await expect.poll(() => page.locator('[data-testid="sign-in-error"]').textContent(), { timeout: 10_000 }).toMatch(/not known/);
  }, 30_000);

  it('signs in with a scoped token, says who is signed in, and shows only the scope\'s functions and services', async () => {
    await page.fill('[aria-label="token"]', TOKENS.shop);
    await page.click('button[type="submit"]');
    const who = page.locator('[data-testid="signed-in"]');
    await who.waitFor({ timeout: 10_000 });
    expect(await who.textContent()).toMatch(/shop-team.*read.*acme.*namespace=~"shop-\.\*"/);
    await page.locator('[data-testid="top-table"] tbody tr').first().waitFor({ timeout: 15_000 });
    await expect.poll(() => page.locator('[data-testid="top-table"]').textContent(), { timeout: 10_000 }).toContain('shopCartFn');
    const services = await page.locator('[data-testid="service"] option').allTextContents();
    expect(services).toContain('shop-cart');
    const text = (await page.content()) + services.join(' ');
    expect(text).not.toMatch(/secretBankFn|bank-ledger/);
  }, 45_000);

  it('stays signed in across a reload, and signing out asks again', async () => {
    await page.reload();
    await page.locator('[data-testid="signed-in"]').waitFor({ timeout: 10_000 });
    await page.click('[data-testid="signed-in"] button');
    await page.locator('[data-testid="sign-in"]').waitFor({ timeout: 10_000 });
    await page.reload();
    await page.locator('[data-testid="sign-in"]').waitFor({ timeout: 10_000 });
  }, 30_000);
});
