import { readFile, writeFile } from 'node:fs/promises';
import { InputError } from '../model/errors.js';
import { PSEUDONYM } from './redact.js';

/**
 * Putting names back, locally: an LLM's answer about a redacted summary speaks of `fn_3fa2…`; with the
 * mapping the summary was made with (saved by `kiln summarize --mapping-out`, or re-derived from the
 * profile with the key) every pseudonym becomes the name again. Unknown pseudonyms stay as they are, and
 * are counted, so a stale mapping is noticed rather than silently half-applied.
 */
export interface Revealed {
  readonly text: string;
  readonly replaced: number;
  readonly unknown: string[];
}

export function reveal(text: string, mapping: ReadonlyMap<string, string>): Revealed {
  let replaced = 0;
  const unknown = new Set<string>();
  const out = text.replace(PSEUDONYM, (p) => {
    const name = mapping.get(p);
    if (name === undefined) {
      unknown.add(p);
      return p;
    }
    replaced++;
    return name;
  });
  return { text: out, replaced, unknown: [...unknown].sort() };
}

/** The mapping file: `{"pseudonyms": {"fn_…": "name", …}}`, written readable by its owner only. */
export async function saveMapping(file: string, mapping: ReadonlyMap<string, string>): Promise<void> {
  const pseudonyms = Object.fromEntries([...mapping].sort(([a], [b]) => (a < b ? -1 : 1)));
  await writeFile(file, `${JSON.stringify({ pseudonyms }, null, 2)}\n`, { mode: 0o600 });
}

export async function loadMapping(file: string): Promise<Map<string, string>> {
  let doc: unknown;
  try {
    doc = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw new InputError(`mapping ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const p = (doc as { pseudonyms?: unknown }).pseudonyms;
  if (p === null || typeof p !== 'object' || Array.isArray(p)) throw new InputError(`mapping ${file}: expected {"pseudonyms": {…}}`);
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(p as Record<string, unknown>)) if (typeof v === 'string') out.set(k, v);
  return out;
}
