/**
 * Unit-aware formatting: CPU nanoseconds read as seconds and cores (seconds of CPU per second of wall
 * clock over the range), bytes as MiB, everything else as a count of its own unit.
 */
export type UnitKind = 'nanoseconds' | 'bytes' | 'count';

export function unitKind(sampleUnit: string): UnitKind {
  if (sampleUnit === 'nanoseconds') return 'nanoseconds';
  if (sampleUnit === 'bytes') return 'bytes';
  return 'count';
}

const numberFmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });

function seconds(ns: number): string {
  const s = ns / 1e9;
  if (s >= 3600) return `${numberFmt.format(s / 3600)} h`;
  if (s >= 60) return `${numberFmt.format(s / 60)} min`;
  if (s >= 1) return `${numberFmt.format(s)} s`;
  if (s >= 1e-3) return `${numberFmt.format(s * 1e3)} ms`;
  return `${numberFmt.format(s * 1e6)} µs`;
}

export function mib(bytes: number): string {
  const m = bytes / (1024 * 1024);
  if (m >= 1024) return `${numberFmt.format(m / 1024)} GiB`;
  return `${numberFmt.format(m)} MiB`;
}

export function count(v: number, unit: string): string {
  const word = unit && unit !== 'count' ? ` ${unit}` : '';
  if (Math.abs(v) >= 1e9) return `${numberFmt.format(v / 1e9)} G${word}`;
  if (Math.abs(v) >= 1e6) return `${numberFmt.format(v / 1e6)} M${word}`;
  if (Math.abs(v) >= 1e4) return `${numberFmt.format(v / 1e3)} k${word}`;
  return `${numberFmt.format(v)}${word}`;
}

/** A value in the profile's sample unit; `rangeSeconds` turns CPU time into average cores. */
export function formatValue(v: number, sampleUnit: string, rangeSeconds = 0): string {
  if (v === 0) return '0';
  switch (unitKind(sampleUnit)) {
    case 'nanoseconds':
      return rangeSeconds > 0 ? `${seconds(v)} (${formatCores(v / 1e9 / rangeSeconds)})` : seconds(v);
    case 'bytes':
      return mib(v);
    default:
      return count(v, sampleUnit);
  }
}

export function formatCores(cores: number): string {
  return `${cores >= 0.01 || cores === 0 ? numberFmt.format(cores) : cores.toPrecision(2)} cores`;
}

export function formatPercent(part: number, whole: number): string {
  if (whole <= 0) return '0%';
  const p = (100 * part) / whole;
  return `${p >= 10 ? p.toFixed(1) : p >= 0.01 ? p.toFixed(2) : p.toPrecision(2)}%`;
}

/** Series chart values: CPU as cores over each step, bytes as MiB, counts per step. */
export function seriesScale(sampleUnit: string, stepSeconds: number): { scale: (v: number) => number; label: string } {
  switch (unitKind(sampleUnit)) {
    case 'nanoseconds':
      return { scale: (v) => v / 1e9 / stepSeconds, label: 'cores' };
    case 'bytes':
      return { scale: (v) => v / (1024 * 1024), label: 'MiB' };
    default:
      return { scale: (v) => v, label: sampleUnit };
  }
}
