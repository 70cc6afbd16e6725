/**
 * Child process for the crash test: writes one profile, reports the acknowledgement, then dies by
 * SIGKILL without closing the store — what a power cut or OOM kill does to a server.
 *   node --import tsx test/store/crash-writer.ts DATA_DIR TENANT
 */
import { openStore } from '../../src/store/index.js';
import { T0, folded } from './fixtures.js';

const [dir, tenant] = process.argv.slice(2);
if (!dir || !tenant) throw new Error('usage: crash-writer.ts DATA_DIR TENANT');
const store = await openStore(dir, { threads: 1 });
const r = await store.write(tenant, [folded({ labels: { service_name: 'crash' }, timeMs: T0, samples: { 'main;work': 42 } })]);
process.stdout.write(`acknowledged ${JSON.stringify(r)}\n`, () => process.kill(process.pid, 'SIGKILL'));
