import { constants, createGunzip, gunzipSync } from 'node:zlib';
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

/** The native inflater under a zlib stream (node:zlib's own, not a public API): what GunzipInto drives. */
interface ZlibHandle {
  writeSync(flush: number, input: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number): void;
  reset(): void;
  close(): void;
  onerror: (message: string, errno: number, code?: string) => void;
}

/**
 * gunzipBounded into one buffer it keeps (grown to the largest body seen, at most `maxBytes` + 1), with one
 * inflater it resets: a decode thread's inflated pprofs stop being an ArrayBuffer of ≈ 230 KiB of garbage
 * each (and a zlib stream object each). The result is a view of that buffer, good until the next call:
 * only for a caller that is done with one body before it inflates the next, and never transfers it.
 *
 * It drives the native handle under a Gunzip stream (the one gunzipSync drives, so the same inflating,
 * multi-member and trailing-byte rules and the same errors); where that is missing (another runtime) it
 * is gunzipBounded.
 */
export class GunzipInto {
  private out = Buffer.allocUnsafe(0);
  private handle: ZlibHandle | undefined;
  private state: Uint32Array | undefined;
  private error: { message: string; code?: string } | undefined;

  inflate(data: Uint8Array, maxBytes: number = DEFAULT_MAX_DECOMPRESSED): Uint8Array {
    if (!isGzip(data)) return data;
    const handle = this.handle ?? this.open();
    if (!handle) return gunzipBounded(data, maxBytes);
    const state = this.state!;
    handle.reset();
    const hint = outputChunkSize(data, maxBytes);
    // A buffer lent to another thread comes back detached (length 0): it is then made again.
    if (this.out.length < hint) this.out = Buffer.allocUnsafe(hint);
    let out = this.out;
    let inOff = 0;
    let inLen = data.length;
    let outOff = 0;
    for (;;) {
      const outLen = out.length - outOff;
      handle.writeSync(constants.Z_FINISH, data, inOff, inLen, out, outOff, outLen);
      if (this.error) this.fail();
      const availOut = state[0]!;
      const availIn = state[1]!;
      inOff += inLen - availIn;
      inLen = availIn;
      outOff += outLen - availOut;
      if (outOff > maxBytes) {
        handle.reset();
        throw new InputError(`decompressed size exceeds ${maxBytes} bytes`, 413);
      }
      // Room left: the stream ended (a truncated or broken one is an error above).
      if (availOut !== 0) break;
      const grown = Buffer.allocUnsafe(Math.min(2 * out.length, maxBytes + 1));
      grown.set(out.subarray(0, outOff));
      this.out = out = grown;
    }
    return out.subarray(0, outOff);
  }

  private open(): ZlibHandle | undefined {
    const stream = createGunzip() as unknown as { _handle?: ZlibHandle; _writeState?: Uint32Array };
    const handle = stream._handle;
    if (!handle || typeof handle.writeSync !== 'function' || !(stream._writeState instanceof Uint32Array)) return undefined;
    // Errors are kept for inflate to throw, not turned into the stream's 'error' event.
    handle.onerror = (message, _errno, code) => {
      this.error = { message, code };
    };
    this.state = stream._writeState;
    return (this.handle = handle);
  }

  /** A zlib error: the inflater is dropped (zlib leaves it unusable) and the error answered as gunzipBounded does. */
  private fail(): never {
    const { message, code } = this.error!;
    this.error = undefined;
    this.handle!.close();
    this.handle = undefined;
    throw new InputError(code === 'Z_BUF_ERROR' ? 'truncated gzip stream' : `invalid gzip data (${message})`, 400);
  }
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
