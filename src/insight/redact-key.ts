import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { InputError } from '../model/errors.js';

/**
 * The secret behind the pseudonyms (redact.ts). Whoever holds it can test a guessed name against a
 * pseudonym, so it stays on the machine that summarizes: a file only its owner reads. The file's bytes
 * are the key (a trailing newline excepted), so `head -c 32 /dev/urandom | xxd -p > key` works as well
 * as the key `kiln summarize` creates on first use.
 */

/** Where `kiln summarize` keeps its key unless told otherwise: $XDG_CONFIG_HOME/kiln/summary.key. */
export function defaultKeyFile(): string {
  const base = process.env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config');
  return path.join(base, 'kiln', 'summary.key');
}

/** Reads the key; with `create`, a missing file is made (32 random bytes, hex, mode 0600). */
export async function loadKey(file: string, create = false): Promise<{ key: Uint8Array; created: boolean }> {
  try {
    return { key: keyOf(await readFile(file), file), created: false };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || !create) {
      if (e instanceof InputError) throw e;
      throw new InputError(`redaction key ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  // 'wx': never overwrite a key another run created meanwhile (its pseudonyms would stop matching).
  await writeFile(file, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' }).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'EEXIST') throw e;
  });
  return { key: keyOf(await readFile(file), file), created: true };
}

function keyOf(bytes: Buffer, file: string): Uint8Array {
  let end = bytes.length;
  while (end > 0 && (bytes[end - 1] === 0x0a || bytes[end - 1] === 0x0d)) end--;
  if (end < 16) throw new InputError(`redaction key ${file} holds ${end} bytes: use at least 16 (e.g. 32 random bytes as hex)`);
  return new Uint8Array(bytes.subarray(0, end));
}
