// A decode thread of the pool (decode-pool.ts): one task per message, answered with the packed reply, its
// typed arrays moved to the main thread. It loads only the codecs and limits, never the server or the store.
import { parentPort } from 'node:worker_threads';
import type { DecodeTask } from './decode-tasks.js';
import { decodeInWorker } from './decode-transfer.js';

/** What the pool sends: a task and the number its answer carries back. */
export interface ThreadRequest {
  readonly id: number;
  readonly task: DecodeTask;
}

/** The answer: the packed reply (decode-transfer.ts), or an error the decoder did not expect, as text. */
export type ThreadAnswer = { readonly id: number; readonly reply: unknown } | { readonly id: number; readonly error: { readonly message: string; readonly stack?: string } };

const port = parentPort;
if (port === null) throw new Error('decode-thread.ts runs as a worker thread of the decode pool');
port.on('message', ({ id, task }: ThreadRequest) => {
  decodeInWorker(task).then(
    ({ reply, transfer }) => port.postMessage({ id, reply } satisfies ThreadAnswer, transfer),
    (e: unknown) => {
      const err = e instanceof Error ? e : new Error(String(e));
      port.postMessage({ id, error: { message: err.message, stack: err.stack } } satisfies ThreadAnswer);
    },
  );
});
