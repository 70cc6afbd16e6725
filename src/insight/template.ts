import { InputError } from '../model/errors.js';

/**
 * Alert labels and annotations are Go templates in Prometheus rule files. Kiln renders the part of that
 * language rule files use in practice — `{{ $labels.service_name }}`, `{{ $value }}`,
 * `{{ $value | humanize }}`, `{{ printf "%.2f" $value }}`, `{{ $externalURL }}` (and the `.Labels`,
 * `.Value`, `.ExternalURL` spellings) — and refuses anything else when the file is loaded, naming the key.
 * Refusing beats rendering a template half: the same file also loads into Prometheus, and an annotation
 * that says something different in Kiln than there would mislead whoever is paged.
 */
export interface TemplateData {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
  /** Where Kiln's UI is reached (alerting.external_url). */
  readonly externalUrl: string;
}

export interface Template {
  readonly text: string;
  render(data: TemplateData): string;
}

type Arg = string | number;
type Part = { readonly text: string } | { readonly commands: readonly Command[] };
type Command = { readonly fn: string; readonly args: readonly Operand[] } | { readonly operand: Operand };
type Operand = (d: TemplateData) => Arg;

const FUNCTIONS: Record<string, (args: Arg[]) => Arg> = {
  humanize: (a) => humanize(numberArg(a)),
  humanizePercentage: (a) => `${formatG(numberArg(a) * 100, 4)}%`,
  toUpper: (a) => String(a.at(-1) ?? '').toUpperCase(),
  toLower: (a) => String(a.at(-1) ?? '').toLowerCase(),
  printf: (a) => printf(String(a[0] ?? ''), a.slice(1)),
};

const KNOWN = '$labels.<name>, $value, $externalURL (or .Labels.<name>, .Value, .ExternalURL), "text", and the functions humanize, humanizePercentage, printf, toUpper, toLower';

export function parseTemplate(text: string, where: string): Template {
  const parts: Part[] = [];
  let pos = 0;
  let trimNext = false;
  while (pos < text.length) {
    const open = text.indexOf('{{', pos);
    let literal = open < 0 ? text.slice(pos) : text.slice(pos, open);
    if (trimNext) literal = literal.replace(/^\s+/, '');
    trimNext = false;
    if (open < 0) {
      parts.push({ text: literal });
      break;
    }
    const close = text.indexOf('}}', open + 2);
    if (close < 0) throw new InputError(`${where}: "{{" at character ${open + 1} is never closed with "}}"`);
    let inner = text.slice(open + 2, close);
    if (inner.startsWith('-') && /^-\s/.test(inner)) {
      literal = literal.replace(/\s+$/, '');
      inner = inner.slice(1);
    }
    if (/\s-$/.test(inner)) {
      trimNext = true;
      inner = inner.slice(0, -1);
    }
    if (literal) parts.push({ text: literal });
    inner = inner.trim();
    if (!(inner.startsWith('/*') && inner.endsWith('*/'))) parts.push({ commands: parsePipeline(inner, where) });
    pos = close + 2;
  }
  return {
    text,
    render(data) {
      let out = '';
      for (const p of parts) {
        if ('text' in p) {
          out += p.text;
          continue;
        }
        let piped: Arg | undefined;
        for (const c of p.commands) {
          if ('operand' in c) piped = c.operand(data);
          else {
            const args = c.args.map((a) => a(data));
            if (piped !== undefined) args.push(piped);
            piped = FUNCTIONS[c.fn]!(args);
          }
        }
        out += typeof piped === 'number' ? formatG(piped, 17) : (piped ?? '');
      }
      return out;
    },
  };
}

function parsePipeline(inner: string, where: string): Command[] {
  const unsupported = (what: string) => new InputError(`${where}: template {{ ${inner} }}: ${what}; Kiln renders ${KNOWN}`);
  if (inner === '') throw unsupported('an empty action');
  return splitOutsideQuotes(inner, '|').map((cmd, i) => {
    const words = splitOutsideQuotes(cmd.trim(), ' ').filter((w) => w !== '');
    const head = words[0] ?? '';
    if (head in FUNCTIONS) return { fn: head, args: words.slice(1).map((w) => operand(w, unsupported)) };
    if (words.length !== 1 || i > 0) throw unsupported(`"${cmd.trim()}" is not something Kiln can render`);
    return { operand: operand(head, unsupported) };
  });
}

function operand(word: string, unsupported: (what: string) => InputError): Operand {
  const label = /^(?:\$labels|\.Labels)\.([a-zA-Z_][a-zA-Z0-9_]*)$/.exec(word);
  if (label) {
    const name = label[1]!;
    return (d) => d.labels[name] ?? '';
  }
  if (word === '$value' || word === '.Value') return (d) => d.value;
  if (word === '$externalURL' || word === '.ExternalURL') return (d) => d.externalUrl;
  if (/^"(?:[^"\\]|\\.)*"$/.test(word)) {
    const s = JSON.parse(word) as string;
    return () => s;
  }
  if (/^`[^`]*`$/.test(word)) {
    const s = word.slice(1, -1);
    return () => s;
  }
  if (/^-?\d+(\.\d+)?$/.test(word)) {
    const n = Number(word);
    return () => n;
  }
  throw unsupported(`"${word}" is not something Kiln can render`);
}

/** Splits on `sep` outside "…" and `…` quotes. */
function splitOutsideQuotes(s: string, sep: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quote) {
      cur += c;
      if (c === '\\' && quote === '"' && i + 1 < s.length) cur += s[++i];
      else if (c === quote) quote = '';
    } else if (c === '"' || c === '`') {
      quote = c;
      cur += c;
    } else if (c === sep) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

function numberArg(args: Arg[]): number {
  const v = args.at(-1);
  return typeof v === 'number' ? v : Number(v);
}

/** Go's `%.<p>g`: p significant digits, trailing zeros dropped. */
function formatG(v: number, p: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : '-Inf';
  return String(Number(v.toPrecision(p)));
}

/** Prometheus' `humanize`: SI prefixes, 4 significant digits (0.7312 → 731.2m, 12345 → 12.35k). */
export function humanize(v: number): string {
  if (v === 0 || !Number.isFinite(v)) return formatG(v, 4);
  let prefix = '';
  if (Math.abs(v) >= 1) {
    for (const p of ['k', 'M', 'G', 'T', 'P', 'E', 'Z', 'Y']) {
      if (Math.abs(v) < 1000) break;
      prefix = p;
      v /= 1000;
    }
  } else {
    for (const p of ['m', 'u', 'n', 'p', 'f', 'a', 'z', 'y']) {
      if (Math.abs(v) >= 1) break;
      prefix = p;
      v *= 1000;
    }
  }
  return `${formatG(v, 4)}${prefix}`;
}

/** Go's printf for the verbs rule files use: %s %v %d %f %e %g with an optional precision, and %%. */
function printf(format: string, args: Arg[]): string {
  let i = 0;
  return format.replace(/%(\.(\d+))?([svdfeg%])/g, (_m, _p: string | undefined, prec: string | undefined, verb: string) => {
    if (verb === '%') return '%';
    const a = args[i++];
    if (a === undefined) return `%!${verb}(MISSING)`;
    const n = typeof a === 'number' ? a : Number(a);
    const p = prec === undefined ? undefined : Number(prec);
    switch (verb) {
      case 'd':
        return String(Math.trunc(n));
      case 'f':
        return n.toFixed(p ?? 6);
      case 'e':
        return n.toExponential(p ?? 6).replace(/e([+-])(\d)$/, 'e$10$2');
      case 'g':
        return formatG(n, p ?? 17);
      default:
        return typeof a === 'number' ? formatG(a, 17) : a;
    }
  });
}
