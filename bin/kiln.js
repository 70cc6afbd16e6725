#!/usr/bin/env node
// Entry point for `npx kiln`: runs the compiled CLI (npm run build writes dist/).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
// `kiln agent` runs on every host all the time: it loads only its own command, not the server's
// modules (≈ 35 MiB of RSS less). Every other verb goes through the full CLI.
const isAgent = process.argv[2] === 'agent';
if (isAgent) {
  // The agent's young generation stays at V8's initial size: left to grow (×2 at a time, up to 16 MiB a
  // semi-space), it reached 4 MiB while the agent's modules load and 8 MiB in the first intervals, pages the
  // agent keeps until V8 shrinks it back. The flag is V8's own, read when the young generation would grow;
  // it cannot be given on node's command line here (bin/kiln.js is the command), so it is set before any import.
  const { setFlagsFromString } = await import('node:v8');
  setFlagsFromString('--semi-space-growth-factor=1');
}
const entry = isAgent ? '../dist/agent/cli-main.js' : '../dist/cli/main.js';
const main = fileURLToPath(new URL(entry, import.meta.url));
if (!existsSync(main)) {
  console.error('kiln: dist/ is missing — run `npm run build` in the checkout first.');
  process.exit(2);
}
await import(main);
