import { compileRegex } from '../../../src/model/matcher.js';

/** Does a function name match what the user searched for? */
export type NameTest = (name: string) => boolean;

const NOTHING: NameTest = () => false;

/**
 * What the user typed into the graph search or the table filter: `/regex/` or a plain substring.
 * A substring matches case-insensitively. A regex is compiled by Kiln's one regex compiler
 * (src/model/matcher.ts: RE2 syntax, linear time, unanchored as the server's focus/hide/filter are), so
 * `/(?i)json/` means here what `--filter '(?i)json'` means to the server, and no pattern can freeze the tab.
 * An unfinished or invalid regex matches nothing while it is being typed. null: nothing typed.
 */
export function nameTest(query: string): NameTest | null {
  if (query === '') return null;
  if (query.length > 2 && query.startsWith('/') && query.endsWith('/')) {
    try {
      const re = compileRegex(query.slice(1, -1), { anchored: false });
      return (name) => re.test(name);
    } catch {
      return NOTHING;
    }
  }
  const q = query.toLowerCase();
  return (name) => name.toLowerCase().includes(q);
}
