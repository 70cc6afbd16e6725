#!/usr/bin/env node
// Entry point for `npx kiln`: runs the compiled CLI (npm run build writes dist/).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
// `kiln agent` runs on every host all the time: it loads only its own command, not the server's
// modules (≈ 35 MiB of RSS less). Every other verb goes through the full CLI.
const entry = process.argv[2] === 'agent' ? '../dist/agent/cli-main.js' : '../dist/cli/main.js';
const main = fileURLToPath(new URL(entry, import.meta.url));
if (!existsSync(main)) {
  console.error('kiln: dist/ is missing — run `npm run build` in the checkout first.');
  process.exit(2);
}
await import(main);
