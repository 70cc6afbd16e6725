import { afterAll, describe, expect, it } from 'vitest';
import { Unavailable } from '../../src/model/errors.js';
import { createDecodePool } from '../../src/server/decode-pool.js';
import type { FormatTask } from '../../src/server/decode-tasks.js';
import { DEFAULT_TENANT_LIMITS } from '../../src/server/limits.js';

/** A folded-stacks body: decoded on the pool's thread like any format. */
const folded = (leaf: string, value: number): FormatTask => ({
  kind: 'format',
  format: 'folded',
  body: new TextEncoder().encode(`main;work;${leaf} ${value}\n`),
  limits: DEFAULT_TENANT_LIMITS,
  name: 'app.cpu',
  labels: [],
  timeMs: 1_700_000_000_000,
});

describe('the decode pool (one thread)', () => {
  const pool = createDecodePool({ threads: 1, maxQueue: 2 });
  afterAll(() => pool.close());

  it('runs one task per thread, keeps the rest waiting up to max_queue, refuses past it as server full (503), and answers each task with its own profile', async () => {
    const first = pool.decode(folded('a', 1));
    const second = pool.decode(folded('b', 2));
    const third = pool.decode(folded('c', 3));
    expect(pool.inFlight).toBe(3);
    expect(pool.queued).toBe(2);
    const refused = await pool.decode(folded('d', 4)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(Unavailable);
    expect((refused as Error).message).toMatch(/^server full: 2 ingest payloads wait/);
    const leaves = (await Promise.all([first, second, third])).map(({ profiles: [p] }) => {
      const stack = p!.dict.stacks[p!.stacks[0]!]!;
      return [p!.dict.functions[p!.dict.locations[stack[0]!]!.lines[0]!.function]!.name, p!.values[0]];
    });
    expect(leaves).toEqual([
      ['a', 1],
      ['b', 2],
      ['c', 3],
    ]);
    expect(pool.inFlight).toBe(0);
    expect(pool.queued).toBe(0);
  });

  it('answers a body the decoder refuses with its 400, and goes on decoding', async () => {
    const bad = await pool.decode({ ...folded('x', 1), format: 'pprof', body: new Uint8Array([1, 2, 3]) }).then(
      (d) => d,
      (e: unknown) => e as { status?: number; message: string },
    );
    expect(bad).toMatchObject({ status: 400, message: expect.stringMatching(/not a valid pprof profile/) });
    expect((await pool.decode(folded('after', 5))).profiles[0]!.values).toEqual([5]);
  });

  it('refuses the tasks still waiting when it closes, and every task after', async () => {
    const closing = createDecodePool({ threads: 1, maxQueue: 4 });
    const running = closing.decode(folded('a', 1)).then(
      () => 'done',
      () => 'refused',
    );
    const waiting = closing.decode(folded('b', 2)).then(
      () => 'done',
      (e: Error) => e.message,
    );
    await closing.close();
    expect(await waiting).toBe('the decode pool is closed');
    expect(['done', 'refused']).toContain(await running);
    await expect(closing.decode(folded('c', 3))).rejects.toThrow('the decode pool is closed');
  });
});
