import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Profile, ProfileView, SymbolDictionary } from '../../src/model/index.js';
import { CPU_TYPE, profileTypeId } from '../../src/model/index.js';
import { dictionaryIds } from '../../src/model/ids.js';
import { openStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/store.js';
import { packReply, unpackReply } from '../../src/server/decode-transfer.js';

/**
 * A decode thread's reply reaches the write path with its sample columns as typed-array views of the
 * reply's buffer (no plain arrays rebuilt on the main thread). What a user checks is that the store
 * then holds exactly the values sent: each stack's sum, fractions, values past 2^32 and zeros dropped.
 */
const T = 1_764_700_000_000;

function dictionary(): SymbolDictionary {
  return {
    mappings: [{ binary: '/srv/app', buildId: 'ab12' }],
    functions: ['main', 'serve', 'parse', 'hash'].map((name) => ({ name, systemName: '', file: 'app.go' })),
    locations: [0, 1, 2, 3].map((f) => ({ mapping: 0, address: BigInt(0x1000 + f * 16), lines: [{ function: f, line: 10 + f }] })),
    stacks: [[3, 2, 1, 0], [2, 1, 0], [1, 0], [0]],
  };
}

/** Stack 1 twice (its values sum), stack 0 with 0 (dropped), a fraction and a value past 2^32. */
function sent(pod: string, timeMs: number): Profile {
  return {
    type: CPU_TYPE,
    labels: [{ name: 'pod', value: pod }, { name: 'service_name', value: 'typed-reply' }],
    timeMs,
    durationNs: 10_000_000_000,
    period: 52_631_578,
    dict: dictionary(),
    stacks: [1, 3, 2, 0, 1],
    values: [2.5, 5, 6_000_000_000_123, 0, 7],
  };
}

/** The sum per stack the store must hold for `sent`, keyed by the stack's content id. */
function expectedSums(p: Profile): Map<bigint, number> {
  const ids = dictionaryIds(p.dict).stacks;
  return new Map([
    [ids[1]!, 9.5],
    [ids[3]!, 5],
    [ids[2]!, 6_000_000_000_123],
  ]);
}

let dir: string;
let store: Store;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'kiln-reply-store-'));
  store = await openStore(dir, { threads: 1 });
});
afterAll(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

async function storedSums(tenant: string): Promise<Map<bigint, number>> {
  const rows = await store.mergeStacks({ tenant, selector: { profileType: profileTypeId(CPU_TYPE), matchers: [] }, from: T - 60_000, to: T + 3_600_000 });
  return new Map(rows.map((r) => [r.stackId, r.value]));
}

describe('a decode reply\'s typed sample columns, written to the store', () => {
  it('stores exactly the values sent, with the rows made on the decode thread', async () => {
    const profile = sent('a', T);
    const [back] = (await unpackReply(packReply({ profiles: [profile], rejected: [] }))).profiles;
    // The columns this test is about: views, not arrays rebuilt from them.
    expect(back!.stacks).toBeInstanceOf(Int32Array);
    expect(back!.values).toBeInstanceOf(Float64Array);
    expect(await store.write('typed-precomputed', [back!])).toEqual({ profiles: 1, rows: 3 });
    expect(await storedSums('typed-precomputed')).toEqual(expectedSums(profile));
  });

  it('stores exactly the values of typed columns whose rows the write path makes itself', async () => {
    const profile = sent('b', T + 1000);
    const typed: ProfileView = { ...profile, stacks: Int32Array.from(profile.stacks), values: Float64Array.from(profile.values) };
    expect(await store.write('typed-own-rows', [typed])).toEqual({ profiles: 1, rows: 3 });
    expect(await storedSums('typed-own-rows')).toEqual(expectedSums(profile));
    // The same profile as plain arrays is the same stored profile: a replay, not a second one.
    expect(await store.write('typed-own-rows', [profile])).toEqual({ profiles: 0, rows: 0 });
  });
});
