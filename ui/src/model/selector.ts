/**
 * Client-side check of a label selector (`{name="v", other=~"re.*"}`), so a typo is pointed at inline
 * while typing instead of after a round trip. The server stays the authority and its errors are shown too.
 */
export interface LabelMatcher {
  name: string;
  op: '=' | '!=' | '=~' | '!~';
  value: string;
}

export type SelectorParse = { ok: true; matchers: LabelMatcher[] } | { ok: false; error: string; at: number };

const NAME = /[a-zA-Z_][a-zA-Z0-9_]*/y;
const OP = /(=~|!~|!=|=)/y;

export function parseSelector(input: string): SelectorParse {
  const s = input.trim();
  if (s === '') return { ok: true, matchers: [] };
  let i = 0;
  const fail = (error: string): SelectorParse => ({ ok: false, error: `${error} at column ${i + 1}`, at: i });
  const ws = () => {
    while (i < s.length && /\s/.test(s[i])) i++;
  };
  if (s[i] !== '{') return fail('a selector starts with "{"');
  i++;
  const matchers: LabelMatcher[] = [];
  ws();
  if (s[i] === '}') {
    i++;
    ws();
    return i === s.length ? { ok: true, matchers } : fail('unexpected text after "}"');
  }
  for (;;) {
    ws();
    NAME.lastIndex = i;
    const name = NAME.exec(s);
    if (!name) return fail('expected a label name');
    i = NAME.lastIndex;
    ws();
    OP.lastIndex = i;
    const op = OP.exec(s);
    if (!op) return fail(`expected =, !=, =~ or !~ after "${name[0]}"`);
    i = OP.lastIndex;
    ws();
    const quote = s[i];
    if (quote !== '"' && quote !== "'" && quote !== '`') return fail('expected a quoted value');
    let value = '';
    i++;
    while (i < s.length && s[i] !== quote) {
      if (s[i] === '\\' && i + 1 < s.length) {
        i++;
        value += s[i] === 'n' ? '\n' : s[i];
      } else value += s[i];
      i++;
    }
    if (i >= s.length) return fail('unterminated quoted value');
    i++;
    if (op[0] === '=~' || op[0] === '!~') {
      try {
        new RegExp(`^(?:${value})$`);
      } catch (e) {
        return fail(`invalid regular expression "${value}" (${(e as Error).message})`);
      }
    }
    matchers.push({ name: name[0], op: op[0] as LabelMatcher['op'], value });
    ws();
    if (s[i] === ',') {
      i++;
      ws();
      if (s[i] === '}') break; // a trailing comma is allowed, as in PromQL
      continue;
    }
    if (s[i] === '}') break;
    return fail('expected "," or "}"');
  }
  i++;
  ws();
  if (i !== s.length) return fail('unexpected text after "}"');
  return { ok: true, matchers };
}

function quote(v: string): string {
  return `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

export function formatSelector(matchers: readonly LabelMatcher[]): string {
  return `{${matchers.map((m) => `${m.name}${m.op}${quote(m.value)}`).join(', ')}}`;
}

/** Sets (or replaces) the equality matcher for `name`; an empty value removes it. */
export function withMatcher(selector: string, name: string, value: string): string {
  const parsed = parseSelector(selector);
  const base = parsed.ok ? parsed.matchers.filter((m) => m.name !== name) : [];
  if (value !== '') base.push({ name, op: '=', value });
  return formatSelector(base);
}

/** The value of an equality matcher in the selector, '' if none. */
export function matcherValue(selector: string, name: string): string {
  const parsed = parseSelector(selector);
  if (!parsed.ok) return '';
  return parsed.matchers.find((m) => m.name === name && m.op === '=')?.value ?? '';
}
