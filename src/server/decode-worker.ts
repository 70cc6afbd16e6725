// The decode pool's worker thread (decode-pool.ts): Piscina calls the default export once per task.
// It loads only the codecs and limits, never the server or the store.
export { decodeInWorker as default } from './decode-transfer.js';
