import { MessageChannel } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import type { Profile, SymbolDictionary } from '../../src/model/index.js';
import { dictionaryIds } from '../../src/model/index.js';
import type { Decoded } from '../../src/server/decode-tasks.js';
import type { DecodeReply } from '../../src/server/decode-transfer.js';
import { packReply, replyBuffers, unpackReply } from '../../src/server/decode-transfer.js';
import { ContentIds, attachPrecomputedIds } from '../../src/store/content-ids.js';
import { profileSamples } from '../../src/store/profile-rows.js';
import { STORED_STACK } from '../../src/store/stored-stacks.js';

const CPU = { name: 'process_cpu', sampleType: 'cpu', sampleUnit: 'nanoseconds', periodType: 'cpu', periodUnit: 'nanoseconds' };

/** Two functions, an inlined frame, an unsymbolized frame at a 64-bit address, a location without mapping. */
function dictionary(tag: string): SymbolDictionary {
  return {
    mappings: [{ binary: `/bin/${tag}`, buildId: 'b1d' }],
    functions: [
      { name: `main_${tag}`, systemName: '', file: 'main.c' },
      { name: 'inlined', systemName: '_Z7inlinedv', file: '' },
    ],
    locations: [
      { mapping: 0, address: 0x1000n, lines: [{ function: 0, line: 12 }] },
      { mapping: 0, address: 0n, lines: [{ function: 1, line: 3 }, { function: 0, line: 40 }] },
      { mapping: 0, address: 0xffff_ffff_ffff_fff0n, lines: [] },
      { mapping: -1, address: 0n, lines: [{ function: 1, line: 0 }] },
    ],
    stacks: [[0], [1, 0], [2, 1, 0], [3]],
  };
}

function profile(dict: SymbolDictionary, pod: string, extra: Partial<Profile> = {}): Profile {
  return {
    type: CPU,
    labels: [{ name: 'pod', value: pod }, { name: 'service_name', value: 'checkout' }],
    timeMs: 1_764_700_000_123,
    durationNs: 10_000_000_000,
    period: 52_631_578.947,
    dict,
    stacks: [3, 0, 1, 2, 1],
    values: [5, 0, 2.5, 1e15, 7],
    ...extra,
  };
}

/** A profile's fields as a user of the write path reads them (the dictionary compared by content). */
const readable = (p: Profile) => ({ ...p, dict: { ...p.dict } });

describe('the decode reply between threads', () => {
  it('brings back every field of every profile, their dictionaries shared as they were, spans, refusals and missing stacks', async () => {
    const a = dictionary('a');
    const b = dictionary('b');
    const spans = { spanIds: [0xfedc_ba98_7654_3210n, 1n], stacks: [1, 2], values: [2.5, 1] };
    const decoded: Decoded = {
      profiles: [profile(a, 'p0', { spans }), profile(a, 'p1'), profile(b, 'p2')],
      rejected: ['resource 0: no samples'],
      missingStacks: ['00000000000000ff'],
    };
    const back = await unpackReply(packReply(decoded));
    expect(back.profiles.map(readable)).toEqual(decoded.profiles.map(readable));
    expect(back.profiles[0]!.dict).toBe(back.profiles[1]!.dict);
    expect(back.profiles[2]!.dict).not.toBe(back.profiles[0]!.dict);
    expect(back.rejected).toEqual(decoded.rejected);
    expect(back.missingStacks).toEqual(decoded.missingStacks);
    // Each dictionary comes with its own ids.
    for (const [i, p] of back.profiles.entries()) expect(Array.from(new ContentIds().forWrite(p.dict).stacks)).toEqual(dictionaryIds(decoded.profiles[i]!.dict).stacks);
  });

  it('carries the content ids and rows made on the decode thread, equal to the model\'s, for the write path to take', async () => {
    const decoded: Decoded = { profiles: [profile(dictionary('ids'), 'p0', { spans: { spanIds: [7n], stacks: [2], values: [1e15] } })], rejected: [] };
    const [p] = (await unpackReply(packReply(decoded))).profiles;
    const ids = new ContentIds().forWrite(p!.dict);
    const model = dictionaryIds(decoded.profiles[0]!.dict);
    expect(Array.from(ids.stacks)).toEqual(model.stacks);
    expect(Array.from(ids.locations)).toEqual(model.locations);
    expect(Array.from(ids.functions)).toEqual(model.functions);
    expect(Array.from(ids.mappings)).toEqual(model.mappings);
    const rows = profileSamples(p!, ids.stackWords);
    // The same rows a fresh profile of the same samples gives, span rows included.
    const fresh = profileSamples({ ...decoded.profiles[0]!, stacks: [...p!.stacks] }, ids.stackWords);
    expect(rows).toEqual(fresh);
    expect(rows.spans?.stackIds.length).toBe(1);
  });

  it('keeps a stored stack the shared STORED_STACK, its id from the decode thread', async () => {
    const dict = dictionary('stored');
    const ids = dictionaryIds(dict);
    dict.stacks[2] = STORED_STACK;
    const u64 = (a: readonly bigint[]) => BigUint64Array.from(a);
    attachPrecomputedIds(dict, { mappings: u64(ids.mappings), functions: u64(ids.functions), locations: u64(ids.locations), stacks: u64(ids.stacks) });
    const [p] = (await unpackReply(packReply({ profiles: [profile(dict, 'p0')], rejected: [] }))).profiles;
    expect(p!.dict.stacks[2]).toBe(STORED_STACK);
    expect(p!.dict.stacks[1]).toEqual([1, 0]);
    expect(Array.from(new ContentIds().forWrite(p!.dict).stacks)).toEqual(ids.stacks);
  });

  it('moves its buffers through a message port: the sender keeps none of them, the receiver unpacks the same profiles', async () => {
    const decoded: Decoded = { profiles: [profile(dictionary('moved'), 'p0')], rejected: [] };
    const reply = packReply(decoded);
    const buffers = replyBuffers(reply);
    expect(buffers.length).toBe(2); // the reply's buffer and the dictionary's stack ids
    const { port1, port2 } = new MessageChannel();
    const arrived = new Promise<DecodeReply>((resolve) => port2.once('message', resolve));
    port1.postMessage(reply, buffers);
    const received = await arrived;
    port1.close();
    expect(buffers.every((b) => b.byteLength === 0)).toBe(true);
    const back = await unpackReply(received);
    expect(back.profiles.map(readable)).toEqual(decoded.profiles.map(readable));
  });

  it('carries a sender\'s error as its status and message', async () => {
    await expect(unpackReply({ ok: false, status: 413, message: 'too large' })).rejects.toMatchObject({ status: 413, message: 'too large' });
  });
});
