import { createGunzip, gunzipSync } from 'node:zlib';
import { InputError } from '../model/index.js';

/** Default cap on a decompressed payload: big enough for any real profile, small enough to stop a zip bomb. */
export const DEFAULT_MAX_DECOMPRESSED = 64 * 1024 * 1024;

/** True when the payload starts with the gzip magic (1f 8b). */
export function isGzip(data: Uint8Array): boolean {
  return data.length >= 2 && data[0] === 0x1f && data[1] === 0x8b;
}

/**
 * Gunzips `data` when it carries the gzip magic, else returns it unchanged.
 * zlib stops inflating as soon as the output passes `maxBytes` (maxOutputLength), so a bomb costs at most
 * `maxBytes` of memory and the time to produce them — never the full expansion.
 */
export function gunzipBounded(data: Uint8Array, maxBytes: number = DEFAULT_MAX_DECOMPRESSED): Uint8Array {
  if (!isGzip(data)) return data;
  try {
    return gunzipSync(data, { maxOutputLength: maxBytes, chunkSize: outputChunkSize(data, maxBytes) });
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) {
      throw new InputError(`decompressed size exceeds ${maxBytes} bytes`, 413);
    }
    const why = code === 'Z_BUF_ERROR' ? 'truncated gzip stream' : `invalid gzip data (${(e as Error).message})`;
    throw new InputError(why, 400);
  }
}

/**
 * The size gzip's trailer gives for the inflated data (mod 2^32), plus one byte so that zlib sees the
 * end without another chunk: one output chunk instead of 16 KiB ones copied together at the end (a
 * quarter of inflating a 230 KiB pprof). Only a hint — a wrong trailer costs one chunk of at most
 * 8 MiB, and maxOutputLength still bounds the output.
 */
function outputChunkSize(data: Uint8Array, maxBytes: number): number {
  const n = data.length;
  const isize = n >= 4 ? (data[n - 4]! | (data[n - 3]! << 8) | (data[n - 2]! << 16) | (data[n - 1]! << 24)) >>> 0 : 0;
  return Math.max(16 * 1024, Math.min(isize + 1, maxBytes + 1, 8 * 1024 * 1024));
}

/**
 * gunzipBounded for servers: inflates on libuv's thread pool (not the event loop) chunk by chunk, hands
 * each chunk to `inspect` (which may throw to stop early: decode-time limits) and stops past `maxBytes`.
 * Data without the gzip magic is inspected and returned as is.
 */
export async function gunzipStreaming(data: Uint8Array, maxBytes: number, inspect?: (chunk: Uint8Array) => void): Promise<Uint8Array> {
  if (!isGzip(data)) {
    inspect?.(data);
    return data;
  }
  // Large output chunks: fewer hops between the thread pool and the event loop.
  const gunzip = createGunzip({ chunkSize: 256 * 1024 });
  const chunks: Buffer[] = [];
  let total = 0;
  const done = new Promise<void>((resolve, reject) => {
    gunzip.on('data', (chunk: Buffer) => {
      try {
        total += chunk.length;
        if (total > maxBytes) throw new InputError(`decompressed size exceeds ${maxBytes} bytes`, 413);
        inspect?.(chunk);
        chunks.push(chunk);
      } catch (e) {
        gunzip.destroy();
        reject(e);
      }
    });
    gunzip.on('end', resolve);
    gunzip.on('error', (e: NodeJS.ErrnoException) => {
      reject(new InputError(e.code === 'Z_BUF_ERROR' ? 'truncated gzip stream' : `invalid gzip data (${e.message})`, 400));
    });
  });
  gunzip.end(data);
  await done;
  return Buffer.concat(chunks, total);
}
