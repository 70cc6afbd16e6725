import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';

/** Chromium for UI tests: the Debian package, headless. Missing → a plain failure, never a skip. */
export const CHROMIUM = '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install the Debian "chromium" package (the UI tests drive a real browser)`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const UI_DIST = path.join(ROOT, 'ui', 'dist');
export const ARTIFACTS = path.join(ROOT, 'test-artifacts', 'ui');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * Builds ui/dist (vite, about a second here) when it is missing or older than its sources, so the tests
 * always exercise the current sources without a separate build step.
 */
export function ensureUiBuilt(): string {
  const index = path.join(UI_DIST, 'index.html');
  const sources = Math.max(
    newestMtime(path.join(ROOT, 'ui', 'src')),
    statSync(path.join(ROOT, 'ui', 'index.html')).mtimeMs,
    statSync(path.join(ROOT, 'ui', 'vite.config.ts')).mtimeMs,
  );
  const stale = !existsSync(index) || statSync(index).mtimeMs < sources;
  if (stale) {
    execFileSync(path.join(ROOT, 'node_modules', '.bin', 'vite'), ['build', '--config', 'ui/vite.config.ts', '--logLevel', 'warn'], {
      cwd: ROOT,
      stdio: 'inherit',
      // vitest sets NODE_ENV=test, which would make vite bundle React's development build (slow, and with
      // StrictMode's double effects): the UI under test must be the production bundle users get.
      env: { ...process.env, NODE_ENV: 'production' },
    });
  }
  return UI_DIST;
}
