#!/usr/bin/env node
// Entry point for `npx kiln`: runs the compiled CLI (npm run build writes dist/).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
const main = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
if (!existsSync(main)) {
  console.error('kiln: dist/ is missing — run `npm run build` in the checkout first.');
  process.exit(2);
}
await import(main);
