import { frameKind, packageOf, type FrameKind } from './frame-kind.js';

/**
 * Colours: each kind of code has its own hue band (user = blue/violet, kernel = orange, JIT = green) and
 * each package a stable hue inside its band, from a hash of its name, so a package keeps its colour across
 * reloads, ranges and servers.
 */
const BANDS: Record<FrameKind, [number, number]> = {
  user: [172, 320],
  kernel: [14, 44],
  jit: [90, 150],
  root: [0, 0],
};

function hash(s: string): number {
  // FNV-1a: tiny, stable and well spread for short strings.
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) / 0xffffffff;
}

export function frameColor(name: string, depth: number, dark: boolean): string {
  const kind = frameKind(name, depth);
  if (kind === 'root') return dark ? 'hsl(220, 8%, 38%)' : 'hsl(220, 8%, 72%)';
  const [lo, hi] = BANDS[kind];
  const h = hash(packageOf(name));
  const hue = lo + (hi - lo) * h;
  const light = dark ? 34 + 10 * hash(name) : 62 + 12 * hash(name);
  return `hsl(${hue.toFixed(0)}, ${kind === 'user' ? 55 : 70}%, ${light.toFixed(0)}%)`;
}

/**
 * Diff colour by relative change of a node's share of its side: red = the comparison spends more
 * (slower), green = less (faster), grey = unchanged. Saturation grows with the change, capped at ±100 %.
 */
export function diffColor(leftShare: number, rightShare: number, dark: boolean): string {
  let change: number;
  if (leftShare === 0) change = rightShare > 0 ? 1 : 0;
  else change = Math.max(-1, Math.min(1, (rightShare - leftShare) / leftShare));
  const strength = Math.abs(change);
  if (strength < 0.02) return dark ? 'hsl(220, 6%, 40%)' : 'hsl(220, 6%, 80%)';
  const hue = change > 0 ? 0 : 130;
  const sat = 30 + 60 * strength;
  const light = dark ? 40 - 8 * strength : 80 - 30 * strength;
  return `hsl(${hue}, ${sat.toFixed(0)}%, ${light.toFixed(0)}%)`;
}

export const KIND_LEGEND: { kind: FrameKind; label: string }[] = [
  { kind: 'user', label: 'user (native)' },
  { kind: 'kernel', label: 'kernel' },
  { kind: 'jit', label: 'JIT / interpreted' },
];

export function legendColor(kind: FrameKind, dark: boolean): string {
  const [lo, hi] = BANDS[kind];
  return `hsl(${(lo + hi) / 2}, 60%, ${dark ? 40 : 66}%)`;
}
