import { InputError } from '../model/errors.js';
import type { Matcher, Selector } from '../model/matcher.js';
import { compileRegex } from '../model/matcher.js';
import { parseProfileType, profileTypeId } from '../model/profile-type.js';
import type { SplitMatchers } from './type-matchers.js';
import { NAME_LABEL, PROFILE_TYPE_LABEL, pinnedTypeId, splitTypeMatchers, typeMatches } from './type-matchers.js';

/**
 * The selector language: a profile type followed by Prometheus label matchers,
 *   process_cpu:cpu:nanoseconds:cpu:nanoseconds{service_name="checkout", pod=~"web-.*", env!="dev"}
 * Also accepted: `{...}` alone when the type is given separately (Pyroscope's querier.v1 sends
 * profile_typeID and label_selector apart), the bare type, and the type as a private label:
 * `{__name__="<type>", ...}` or `{__profile_type__="<type>", ...}` (see type-matchers.ts).
 * Values are quoted as in PromQL: "double" and 'single' with Go escapes, `backtick` raw.
 * Errors name the 1-based column of the problem so a user can find it in what they typed.
 */
export function parseSelector(text: string, profileType?: string): Selector {
  checkLength(text);
  const { typeText, matchers } = text.trim() === '' && profileType ? { typeText: undefined, matchers: [] } : new SelectorParser(text, false).parse();
  for (const m of matchers) {
    // A merge reads one type: a pattern over types would need the store to say which it means.
    if ((m.name === NAME_LABEL || m.name === PROFILE_TYPE_LABEL) && m.op !== '=') {
      throw new InputError(`selector: ${m.name} (the profile type) only takes "=", got "${m.op}"`);
    }
  }
  const split = splitTypeMatchers(typeText, matchers);
  let type = pinnedTypeId(split.type);
  if (profileType !== undefined && profileType !== '') {
    const given = profileTypeId(parseProfileType(profileType));
    if (type !== undefined && type !== given) throw new InputError(`selector names profile type "${type}" but "${profileType}" was asked for`);
    type = given;
  }
  if (type === undefined) {
    const name = split.type.find((m) => m.name === NAME_LABEL && m.op === '=');
    throw new InputError(
      name
        ? `selector names the type "${name.value}" but not which one: write its full id, e.g. ${name.value}:cpu:nanoseconds:cpu:nanoseconds{…}`
        : 'selector has no profile type: write it before the braces, e.g. process_cpu:cpu:nanoseconds:cpu:nanoseconds{service_name="app"}',
    );
  }
  if (!typeMatches(parseProfileType(type), split.type)) {
    throw new InputError(`selector: profile type "${type}" does not match ${formatMatchers(split.type)}`);
  }
  return { profileType: type, matchers: split.labels };
}

/**
 * A selector that may leave the type open, name it only (`process_cpu{…}`, `{__name__="memory"}`) or
 * match it with a pattern: what label, series and type listings take. '' selects every series.
 */
export function parseSeriesSelector(text: string): SplitMatchers {
  checkLength(text);
  if (text.trim() === '') return { type: [], labels: [] };
  const { typeText, matchers } = new SelectorParser(text, true).parse();
  return splitTypeMatchers(typeText, matchers);
}

function checkLength(text: string): void {
  if (text.length > MAX_SELECTOR_CHARS) {
    throw new InputError(`selector is ${text.length} characters long (limit ${MAX_SELECTOR_CHARS})`);
  }
}

/** Only the `{...}` part (or an empty string): what querier.v1's label_selector carries. */
export function parseMatchers(text: string): Matcher[] {
  if (text.trim() === '') return [];
  const { typeText, matchers } = new SelectorParser(text, false).parse();
  if (typeText !== undefined) throw new InputError(`label selector "${text.slice(0, 200)}" must be {...} without a profile type`);
  return matchers;
}

/** The canonical spelling: `type{a="1",b=~"x.*"}`; parseSelector(formatSelector(s)) equals s. */
export function formatSelector(s: Selector): string {
  return `${s.profileType}${formatMatchers(s.matchers)}`;
}

export function formatMatchers(matchers: readonly Matcher[]): string {
  // JSON string escaping is a subset of PromQL's double-quoted escapes, so it round-trips.
  return `{${matchers.map((m) => `${m.name}${m.op}${JSON.stringify(m.value)}`).join(',')}}`;
}

/** A selector is typed by hand or pasted in a URL; anything longer is not a selector. */
export const MAX_SELECTOR_CHARS = 64 * 1024;

const NAME_START = /[a-zA-Z_]/;
const NAME_CHAR = /[a-zA-Z0-9_]/;
const TYPE_CHAR = /[A-Za-z0-9_.:\-]/;

class SelectorParser {
  private pos = 0;
  /** typeName: the text before the braces may be a type name alone (`process_cpu`), as listings allow. */
  constructor(
    private readonly src: string,
    private readonly typeName: boolean,
  ) {}

  parse(): { typeText: string | undefined; matchers: Matcher[] } {
    this.skipSpace();
    let typeText: string | undefined;
    if (this.peek() !== '{') {
      const start = this.pos;
      while (this.pos < this.src.length && TYPE_CHAR.test(this.src[this.pos]!)) this.pos++;
      if (this.pos === start) {
        if (this.pos >= this.src.length) throw this.error('selector is empty');
        throw this.error(`unexpected "${this.src[this.pos]}": expected a profile type or "{"`);
      }
      typeText = this.src.slice(start, this.pos);
      try {
        if (!this.typeName || typeText.includes(':')) parseProfileType(typeText);
      } catch (e) {
        throw new InputError(`${(e as Error).message} (at column ${start + 1})`);
      }
      this.skipSpace();
      if (this.pos >= this.src.length) return { typeText, matchers: [] };
      if (this.peek() !== '{') throw this.error(`unexpected "${this.peek()}" after the profile type: expected "{"`);
    }
    this.pos++; // '{'
    const matchers: Matcher[] = [];
    for (;;) {
      this.skipSpace();
      if (this.peek() === '}') {
        this.pos++;
        break;
      }
      if (this.pos >= this.src.length) throw this.error('unclosed "{": expected a label matcher or "}"');
      matchers.push(this.matcher());
      this.skipSpace();
      const c = this.peek();
      if (c === ',') {
        this.pos++;
        continue;
      }
      if (c === '}') {
        this.pos++;
        break;
      }
      if (c === undefined) throw this.error('unclosed "{": expected "," or "}"');
      throw this.error(`unexpected "${c}": expected "," or "}"`);
    }
    this.skipSpace();
    if (this.pos < this.src.length) throw this.error(`unexpected "${this.peek()}" after "}"`);
    return { typeText, matchers };
  }

  private matcher(): Matcher {
    const start = this.pos;
    if (!NAME_START.test(this.src[this.pos] ?? '')) {
      throw this.error(`unexpected "${this.src[this.pos]}": a label name starts with a letter or "_"`);
    }
    while (this.pos < this.src.length && NAME_CHAR.test(this.src[this.pos]!)) this.pos++;
    const name = this.src.slice(start, this.pos);
    this.skipSpace();
    const opAt = this.pos;
    const two = this.src.slice(this.pos, this.pos + 2);
    let op: Matcher['op'];
    if (two === '=~' || two === '!=' || two === '!~') {
      op = two;
      this.pos += 2;
    } else if (this.peek() === '=') {
      op = '=';
      this.pos++;
    } else {
      throw this.error(`expected one of = != =~ !~ after label "${name}"`);
    }
    this.skipSpace();
    const value = this.quoted();
    if (op === '=~' || op === '!~') {
      try {
        compileRegex(value, { anchored: true });
      } catch (e) {
        throw new InputError(`invalid regex for label "${name}" (at column ${opAt + 1}): ${(e as Error).message}`);
      }
    }
    return { name, op, value };
  }

  private quoted(): string {
    const q = this.peek();
    const start = this.pos;
    if (q !== '"' && q !== "'" && q !== '`') {
      throw this.error(q === undefined ? 'expected a quoted label value' : `expected a quoted label value, got "${q}"`);
    }
    this.pos++;
    let out = '';
    for (;;) {
      if (this.pos >= this.src.length) {
        this.pos = start;
        throw this.error(`unterminated string starting with ${q}`);
      }
      const c = this.src[this.pos]!;
      if (c === q) {
        this.pos++;
        return out;
      }
      if (c === '\\' && q !== '`') {
        out += this.escape(q);
        continue;
      }
      if (c === '\n' && q !== '`') throw this.error('newline inside a quoted label value');
      out += c;
      this.pos++;
    }
  }

  /** Go string escapes, as PromQL has them. */
  private escape(quote: string): string {
    const at = this.pos;
    const c = this.src[this.pos + 1];
    this.pos += 2;
    switch (c) {
      case 'a': return '\x07';
      case 'b': return '\b';
      case 'f': return '\f';
      case 'n': return '\n';
      case 'r': return '\r';
      case 't': return '\t';
      case 'v': return '\v';
      case '\\': return '\\';
      case '"':
      case "'":
        if (c !== quote) break;
        return c;
      case 'x': return this.hexEscape(2, at);
      case 'u': return this.hexEscape(4, at);
      case 'U': return this.hexEscape(8, at);
      default:
        if (c !== undefined && c >= '0' && c <= '7') {
          const digits = this.src.slice(this.pos - 1, this.pos + 2);
          if (/^[0-7]{3}$/.test(digits) && parseInt(digits, 8) < 256) {
            this.pos += 2;
            return String.fromCharCode(parseInt(digits, 8));
          }
        }
    }
    this.pos = at;
    throw this.error(`invalid escape "\\${c ?? ''}" in a quoted label value`);
  }

  private hexEscape(n: number, at: number): string {
    const digits = this.src.slice(this.pos, this.pos + n);
    if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(digits)) {
      this.pos = at;
      throw this.error(`invalid escape: \\${this.src[at + 1]} needs ${n} hex digits`);
    }
    const cp = parseInt(digits, 16);
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      this.pos = at;
      throw this.error(`invalid escape: \\${this.src[at + 1]}${digits} is not a Unicode code point`);
    }
    this.pos += n;
    return String.fromCodePoint(cp);
  }

  private peek(): string | undefined {
    return this.src[this.pos];
  }

  private skipSpace(): void {
    while (this.pos < this.src.length && /\s/.test(this.src[this.pos]!)) this.pos++;
  }

  private error(what: string): InputError {
    const shown = this.src.length > 120 ? `${this.src.slice(0, 120)}…` : this.src;
    return new InputError(`selector ${JSON.stringify(shown)}: ${what} (at column ${this.pos + 1})`);
  }
}
