import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { InputError } from '../model/errors.js';
import { parseProfileType, profileTypeId } from '../model/profile-type.js';
import { formatSelector } from '../query/selector.js';
import type { Selection } from '../query/selection.js';
import { parseSelection } from '../query/selection.js';
import type { TimeRange } from '../store/store.js';
import type { MergedSide, ProfileFiles, ProfileInput } from './compare-files.js';
import { heapPartner } from './compare-samples.js';

/** GET of a server path with query parameters, answering the body's bytes (the CLI's KilnClient.getBytes). */
export type FetchBytes = (path: string, params: Record<string, string | number | undefined>) => Promise<Uint8Array>;

/**
 * One side of `kiln compare` (and `kiln summarize`): profile files, or a selection on a server.
 *   cpu.pb.gz                 a file (pprof, folded, OTLP, perf script, speedscope; gzipped or not)
 *   a.pb.gz,b.pb.gz           several files, merged
 *   profiles/                 every file in a directory, merged
 *   'type{service_name="api"}@now-2h..now-1h'   a selection on the server (--url), as `kiln query diff` writes it
 */
export type SideSpec =
  | { readonly kind: 'files'; readonly text: string; readonly paths: readonly string[] }
  | { readonly kind: 'selection'; readonly text: string; readonly selection: Selection };

/** Anything with a brace, or a five-part profile type, is a selector; otherwise it names files. */
const SELECTOR_LIKE = /\{|^[\w.-]+(:[\w.-]+){4}/;

export async function parseSide(text: string, defaultRange: TimeRange): Promise<SideSpec> {
  if (text.trim() === '') throw new InputError('empty profile argument: give files or SELECTOR@RANGE');
  const whole = await existing(text);
  const parts = whole ? [whole] : await Promise.all(text.split(',').filter(Boolean).map(existing));
  if (parts.every((p) => p !== undefined)) {
    const paths = (await Promise.all(parts.map((p) => expand(p!)))).flat();
    if (paths.length === 0) throw new InputError(`${text}: no files in it`);
    return { kind: 'files', text, paths };
  }
  if (SELECTOR_LIKE.test(text)) return { kind: 'selection', text, selection: parseSelection(text, defaultRange) };
  throw new InputError(`${text}: no such file (and not a selector such as 'process_cpu:cpu:nanoseconds:cpu:nanoseconds{service_name="api"}@now-1h')`);
}

async function existing(p: string): Promise<string | undefined> {
  try {
    await stat(p);
    return p;
  } catch {
    return undefined;
  }
}

/** A directory stands for the files directly in it (sorted, hidden ones left out); a file for itself. */
async function expand(p: string): Promise<string[]> {
  if (!(await stat(p)).isDirectory()) return [p];
  const entries = await readdir(p, { withFileTypes: true });
  return entries.filter((e) => e.isFile() && !e.name.startsWith('.')).map((e) => path.join(p, e.name)).sort();
}

export async function readInputs(paths: readonly string[]): Promise<ProfileInput[]> {
  return Promise.all(
    paths.map(async (p) => {
      try {
        return { name: p, data: new Uint8Array(await readFile(p)) };
      } catch (e) {
        throw new InputError(`${p}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      }
    }),
  );
}

/** The server's merge of a selection as pprof (mappings and all), to be merged beside local files. */
export async function fetchSelection(fetchBytes: FetchBytes, sel: Selection): Promise<ProfileInput> {
  const data = await fetchBytes('/api/v1/flamegraph', {
    query: formatSelector(sel.selector),
    from: sel.range.from,
    until: sel.range.to,
    format: 'pprof',
  });
  return { name: 'selection.pb.gz', data };
}

/** A side merged through the query layer, whichever kind it is; `typeId` keeps both sides to one type. */
export async function mergeSide(files: ProfileFiles, spec: SideSpec, fetchBytes: FetchBytes, typeId?: string): Promise<MergedSide> {
  if (spec.kind === 'files') return files.merge(await readInputs(spec.paths), typeId);
  const wanted = typeId ?? spec.selection.selector.profileType;
  const inputs = [await fetchSelection(fetchBytes, spec.selection)];
  // A heap type's sample counts need the other half of its pair (compare-samples.ts heapPartner).
  const partner = heapPartner(parseProfileType(wanted));
  if (partner) {
    // Optional: without it (the server has no such profiles, or refuses) the counts fall back to a period.
    const other = await fetchSelection(fetchBytes, { ...spec.selection, selector: { ...spec.selection.selector, profileType: profileTypeId(partner) } }).catch(() => undefined);
    if (other) inputs.push(other);
  }
  return files.merge(inputs, wanted);
}
