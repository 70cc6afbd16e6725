import { afterAll, beforeAll, describe } from 'vitest';
import { ClickHouseEngine } from '../../src/store/clickhouse/clickhouse-engine.js';
import { EngineStore } from '../../src/store/engine-store.js';
import type { ClickHouseServer } from '../support/clickhouse.js';
import { startClickHouse } from '../support/clickhouse.js';
import { storeContract } from './contract.js';

describe('ClickHouse store', () => {
  let ch: ClickHouseServer;
  beforeAll(async () => {
    ch = await startClickHouse();
  });
  afterAll(async () => {
    await ch?.destroy();
  });

  storeContract('ClickHouse', async () => EngineStore.open(await ClickHouseEngine.open(ch.url)));
});
