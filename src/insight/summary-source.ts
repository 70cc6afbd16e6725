import { profileTypeId } from '../model/profile-type.js';
import { formatSelector } from '../query/selector.js';
import type { Selection } from '../query/selection.js';
import { ProfileFiles } from './compare-files.js';
import type { FetchBytes, SideSpec } from './compare-sides.js';
import { mergeSide } from './compare-sides.js';
import type { RedactPolicy } from './redact.js';
import { Redactor, redactSummary } from './redact.js';
import type { Summary } from './summary.js';
import { packageOf } from './summary-package.js';
import { summaryOf } from './summary-query.js';

/**
 * Where `kiln summarize` gets its (unredacted) summary from: a selection on the server is summarized by
 * the server (/api/v1/summary, no budget, names as they are — they only come to the user's own machine);
 * files, or a file against a selection, here over the same query-layer merge (compare-files.ts).
 * Redaction and the token budget are applied afterwards, locally, with the local key.
 */
export interface SummaryRequest {
  readonly target: SideSpec;
  readonly base?: SideSpec;
  /** Profile type when the target is files. */
  readonly type?: string;
}

export interface SummarySource {
  readonly summary: Summary;
  /** Every function name of the profile (not only those the summary lists), for re-deriving a mapping. */
  readonly functions: readonly string[];
}

export async function loadSummary(req: SummaryRequest, fetchBytes: FetchBytes): Promise<SummarySource> {
  const { target, base } = req;
  if (target.kind === 'selection' && (!base || base.kind === 'selection')) return fromServer(target.selection, base?.kind === 'selection' ? base.selection : undefined, fetchBytes);
  const files = await ProfileFiles.open();
  try {
    const head = await mergeSide(files, target, fetchBytes, req.type);
    const b = base ? await mergeSide(files, base, fetchBytes, profileTypeId(head.type)) : undefined;
    const summary = summaryOf({
      type: head.type,
      head,
      selection: describe(target),
      range: target.kind === 'selection' ? target.selection.range : undefined,
      base: b && base ? { side: b, text: describe(base) } : undefined,
    });
    return { summary, functions: [...new Set(head.stacks.flatMap((s) => s.frames.map((f) => f.name)))] };
  } finally {
    await files.close();
  }
}

/** What a side is called in a summary: its selector and range, or how many files — never a file's name. */
function describe(side: SideSpec): string {
  if (side.kind === 'files') return `${side.paths.length} profile file${side.paths.length === 1 ? '' : 's'}`;
  const { selector, range } = side.selection;
  return `${formatSelector(selector)}@${new Date(range.from).toISOString()}..${new Date(range.to).toISOString()}`;
}

async function fromServer(sel: Selection, base: Selection | undefined, fetchBytes: FetchBytes): Promise<SummarySource> {
  const params = { query: formatSelector(sel.selector), from: sel.range.from, until: sel.range.to };
  const baseParams = base ? { diff_base_query: formatSelector(base.selector), diff_base_from: base.range.from, diff_base_until: base.range.to } : {};
  const json = async <T>(path: string, p: Record<string, string | number | undefined>) => JSON.parse(new TextDecoder().decode(await fetchBytes(path, p))) as T;
  const [summary, top] = await Promise.all([
    json<Summary>('/api/v1/summary', { ...params, ...baseParams, format: 'json', max_tokens: 0 }),
    json<{ entries: { name: string }[] }>('/api/v1/top', { ...params, limit: 0 }),
  ]);
  return { summary, functions: top.entries.map((e) => e.name) };
}

/**
 * The mapping of every pseudonym the profile's names can have under `key`, whatever the policy kept:
 * what `--reveal` uses when no mapping file was saved.
 */
export function deriveMapping(key: Uint8Array, source: SummarySource): Map<string, string> {
  const everything: RedactPolicy = { mode: 'allow-list', patterns: [], allowFunctions: [], allowBinaries: [], allowFiles: [] };
  const r = new Redactor(key, everything);
  redactSummary(source.summary, r);
  for (const f of source.functions) {
    r.name('fn', f);
    r.name('pkg', packageOf(f));
  }
  return r.mapping;
}
