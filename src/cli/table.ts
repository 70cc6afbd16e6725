/** A cell that reads as a quantity: `12`, `-0.40s`, `+1.5 MiB`, `60.00%`. */
const QUANTITY = /^[-+]?\d[\d.,]*\s?[A-Za-z%]*$/;

/** Plain aligned text tables for terminals: quantities right-aligned (so digits line up), text left-aligned. */
export function formatTable(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cells = [header, ...rows].map((r) => r.map(String));
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((r) => QUANTITY.test(String(r[i]))));
  const width = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells
    .map((r) => r.map((c, i) => (numeric[i] ? c.padStart(width[i]!) : c.padEnd(width[i]!))).join('  ').trimEnd())
    .join('\n');
}

/** A value in a unit people read: CPU nanoseconds as seconds, bytes as KiB/MiB/GiB, counts as is. */
export function formatValue(value: number, unit: string): string {
  if (unit === 'nanoseconds') return `${(value / 1e9).toFixed(2)}s`;
  if (unit === 'bytes') {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let v = value;
    let i = 0;
    while (Math.abs(v) >= 1024 && i < units.length - 1) {
      v /= 1024;
      i++;
    }
    return `${v.toFixed(i === 0 ? 0 : 2)} ${units[i]}`;
  }
  return Number.isInteger(value) ? String(value) : value.toFixed(2);
}

export function percent(part: number, whole: number): string {
  return whole === 0 ? '0.00%' : `${((100 * part) / whole).toFixed(2)}%`;
}
