import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import { openStore } from '../../src/store/index.js';
import { storeContract } from './contract.js';

const dir = mkdtempSync(path.join(tmpdir(), 'kiln-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Two threads at most: the test machine's cores are shared with other suites.
storeContract('DuckDB', () => openStore(dir, { threads: 1 }));
