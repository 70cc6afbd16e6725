import type { Callgraph } from '../query/callgraph.js';

export interface DotOptions {
  /** Shown in the legend box, e.g. the profile type id. */
  readonly title: string;
  /** Nodes to draw, heaviest cumulative first; edges to dropped nodes go too. */
  readonly maxNodes: number;
}

/** A name inside a DOT string: its own backslashes and quotes escaped, so `\n`/`\l` we add stay line breaks. */
const esc = (s: string) => s.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
const quote = (s: string) => `"${s}"`;
const pct = (v: number, total: number) => (total > 0 ? `${((100 * v) / total).toFixed(2)}%` : '0%');

/**
 * A call graph in Graphviz DOT, laid out the way `go tool pprof -dot` draws one (what Pyroscope's
 * `format=dot` answers and Profiles Drilldown hands to its LLM panel): a box per function labelled with
 * its flat and cumulative value and share, font size growing with flat share, edges labelled with the
 * value of the calls they stand for. Only the heaviest `maxNodes` functions are drawn.
 */
export function toDot(g: Callgraph, opts: DotOptions): string {
  const kept = g.nodes.slice(0, Math.max(1, opts.maxNodes));
  const ids = new Map(kept.map((n, i) => [n.name, `N${i + 1}`]));
  const lines = [
    'digraph "unnamed" {',
    'node [style=filled fillcolor="#f8f8f8"]',
    `subgraph cluster_L { "legend" [shape=box fontsize=16 label=${quote(`${esc(opts.title)}\\lShowing ${kept.length} of ${g.nodes.length} nodes\\lTotal ${g.total}\\l`)}] }`,
  ];
  for (const n of kept) {
    const size = 8 + Math.round(32 * (g.total > 0 ? n.flat / g.total : 0));
    const label = `${esc(n.name)}\\n${n.flat} (${pct(n.flat, g.total)})\\nof ${n.cumulative} (${pct(n.cumulative, g.total)})`;
    lines.push(`${ids.get(n.name)} [label=${quote(label)} id="node${ids.get(n.name)!.slice(1)}" fontsize=${size} shape=box tooltip=${quote(`${esc(n.name)} (${n.cumulative})`)}]`);
  }
  for (const e of g.edges) {
    const from = ids.get(e.caller);
    const to = ids.get(e.callee);
    if (!from || !to) continue;
    const weight = Math.max(1, Math.round((100 * e.cumulative) / Math.max(1, g.total)));
    lines.push(`${from} -> ${to} [label=${quote(` ${e.cumulative}`)} weight=${weight} tooltip=${quote(`${esc(e.caller)} -> ${esc(e.callee)} (${e.cumulative})`)}]`);
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}
