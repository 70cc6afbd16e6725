import { InputError } from '../model/errors.js';
import { formatTable, formatValue } from '../cli/table.js';
import type { CompareReport, FunctionChange, ShareChange } from './compare.js';
import { formatP, pct } from './compare.js';

/** The report for a terminal, a pull-request comment, a program, or a CI test report. */
export type CompareFormat = 'text' | 'markdown' | 'json' | 'junit';
export const COMPARE_FORMATS: readonly CompareFormat[] = ['text', 'markdown', 'json', 'junit'];

export function parseCompareFormat(s: string): CompareFormat {
  if ((COMPARE_FORMATS as readonly string[]).includes(s)) return s as CompareFormat;
  throw new InputError(`unknown format "${s.slice(0, 40)}": use ${COMPARE_FORMATS.join(', ')}`);
}

export function renderCompare(r: CompareReport, format: CompareFormat): string {
  switch (format) {
    case 'json':
      return `${JSON.stringify(r, null, 2)}\n`;
    case 'markdown':
      return markdown(r);
    case 'junit':
      return junit(r);
    case 'text':
      return text(r);
  }
}

function side(r: CompareReport, which: 'base' | 'head'): string {
  const s = r[which];
  // Counts from merged heap stacks can only be overestimated: say so where the figure is read.
  const caveat = s.countsFrom === 'merged stacks' ? ' (estimated from merged stacks, an upper bound: compare the pprof files for an exact count)' : '';
  return `${which} ${formatValue(s.total, r.unit)} = ${Math.round(s.samples)} samples${caveat}`;
}

function header(r: CompareReport): string {
  return (
    `${r.profileType}: ${side(r, 'base')}, ${side(r, 'head')}; ` +
    `${r.significantCount} of ${r.functionCount} functions changed beyond sampling noise (alpha ${r.alpha}, Holm over ${r.tests} tests)`
  );
}

function signedPp(s: ShareChange): string {
  const pp = s.delta * 100;
  return `${pp >= 0 ? '+' : ''}${pp.toFixed(2)}pp`;
}

function relative(s: ShareChange): string {
  if (s.relative === null) return s.head > 0 ? 'new' : '0%';
  return `${s.relative >= 0 ? '+' : ''}${(s.relative * 100).toFixed(1)}%`;
}

/** `*` after a change that is significant, nothing after noise. */
function mark(s: ShareChange): string {
  return s.significant ? '*' : '';
}

function cells(f: FunctionChange): string[] {
  return [
    pct(f.total.base),
    pct(f.total.head),
    signedPp(f.total) + mark(f.total),
    relative(f.total),
    pct(f.self.base),
    pct(f.self.head),
    signedPp(f.self) + mark(f.self),
    relative(f.self),
    formatP(Math.min(f.total.pValue, f.self.pValue)),
    f.name,
  ];
}

const COLUMNS = ['TOTAL BASE', 'TOTAL HEAD', 'TOTAL Δ', 'TOTAL REL', 'SELF BASE', 'SELF HEAD', 'SELF Δ', 'SELF REL', 'P', 'FUNCTION'];

function text(r: CompareReport): string {
  const lines = [header(r), ''];
  if (r.functions.length > 0) lines.push(formatTable(COLUMNS, r.functions.map(cells)), '(* significant; P is the smaller of the total and self p-values, uncorrected)', '');
  for (const g of r.gates) lines.push(`${g.broken ? 'FAIL' : 'ok  '} ${g.message}`);
  if (r.gates.length > 0) lines.push(r.passed ? 'no gate broken' : `${r.gates.filter((g) => g.broken).length} gate(s) broken`);
  return `${lines.join('\n').trimEnd()}\n`;
}

/** Markdown cells: a `|` would end the cell, a backtick the code span. */
function md(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/`/g, "'");
}

function markdown(r: CompareReport): string {
  const lines = [`### Kiln compare: ${r.passed ? '✅ no gate broken' : '❌ regression'}`, '', md(header(r)), ''];
  if (r.gates.length > 0) {
    for (const g of r.gates) lines.push(`- ${g.broken ? '❌' : '✅'} ${md(g.message)}`);
    lines.push('');
  }
  if (r.functions.length > 0) {
    lines.push(`| ${COLUMNS.join(' | ')} |`, `|${COLUMNS.map((c) => (c === 'FUNCTION' ? ' --- ' : ' ---: ')).join('|')}|`);
    for (const f of r.functions) {
      const c = cells(f);
      c[c.length - 1] = `\`${md(f.name)}\``;
      lines.push(`| ${c.map((x, i) => (i === c.length - 1 ? x : md(x))).join(' | ')} |`);
    }
    lines.push('', '\\* significant beyond sampling noise');
  }
  return `${lines.join('\n')}\n`;
}

function xml(s: string): string {
  // Characters XML 1.0 cannot carry at all are dropped; the rest escaped.
  return s.replace(/[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '').replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * JUnit XML, as CI systems (GitLab, Jenkins, GitHub test reporters) read it: one test case per gate,
 * failed when the gate broke; the whole text report in system-out. No gates: one passing case.
 */
function junit(r: CompareReport): string {
  const cases = r.gates.length > 0 ? r.gates : [{ gate: 'comparison', broken: false, message: header(r) }];
  const failures = cases.filter((g) => g.broken).length;
  const body = cases
    .map((g) => {
      const open = `    <testcase classname="kiln.compare" name="${xml(g.gate)}">`;
      return g.broken ? `${open}\n      <failure message="${xml(g.message)}" type="regression">${xml(g.message)}</failure>\n    </testcase>` : `${open}</testcase>`;
    })
    .join('\n');
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="kiln compare" tests="${cases.length}" failures="${failures}">`,
    `  <testsuite name="${xml(`kiln compare ${r.profileType}`)}" tests="${cases.length}" failures="${failures}" errors="0">`,
    body,
    `    <system-out>${xml(text(r))}</system-out>`,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}
