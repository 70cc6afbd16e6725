import { escapeRegex, packagePattern } from './frame-kind.js';

/**
 * Focus and hide as the URL keeps them (a function's exact name, or `pkg:<package>` for every frame of a
 * package or binary) turned into the regexes of the server's stack filters (`focus`, `hide` of
 * /api/v1/flamegraph, /top, /sandwich). The server applies them to every merged stack, so the graph,
 * the table and the sandwich agree with each other and with `kiln query … --focus/--hide`.
 */
export interface StackFilterParams {
  readonly focus?: string;
  readonly hide?: string;
}

const PACKAGE = 'pkg:';

/** The regex one focus/hide entry stands for; '' for a package no frame name can have. */
export function entryPattern(entry: string): string {
  return entry.startsWith(PACKAGE) ? packagePattern(entry.slice(PACKAGE.length)) : `^${escapeRegex(entry)}$`;
}

/** "package checkout" for `pkg:checkout`, the name itself for a function. */
export function describeEntry(entry: string): string {
  return entry.startsWith(PACKAGE) ? `package ${entry.slice(PACKAGE.length)}` : entry;
}

export function packageEntry(pkg: string): string {
  return `${PACKAGE}${pkg}`;
}

// Matches no function name: a focus on a package no name can have shows an empty graph, as it should.
const NOTHING = '[^\\s\\S]';

export function stackFilter(focus: string, hide: readonly string[]): StackFilterParams {
  const hidden = hide.map(entryPattern).filter((p) => p !== '');
  return {
    focus: focus ? entryPattern(focus) || NOTHING : undefined,
    hide: hidden.length ? hidden.map((p) => `(?:${p})`).join('|') : undefined,
  };
}
