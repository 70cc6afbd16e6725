import { InputError } from './errors.js';

/** One label. Label sets are arrays sorted by name, names unique. */
export interface Label {
  readonly name: string;
  readonly value: string;
}
export type Labels = readonly Label[];

/** The primary label (Pyroscope convention): the service a profile belongs to. */
export const SERVICE_NAME = 'service_name';

/** Limits a label set must keep; a payload past them is rejected with a 4xx, not truncated. */
export const LABEL_LIMITS = {
  maxLabels: 64,
  maxNameLength: 128,
  maxValueLength: 1024,
} as const;

const NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export function isValidLabelName(name: string): boolean {
  return NAME.test(name) && name.length <= LABEL_LIMITS.maxNameLength;
}

/**
 * Any text as a label name: every character a name cannot hold becomes `_`, and a leading digit gets a
 * `_` prefix (Prometheus' translation of OTLP attribute and service-discovery names). '' stays ''.
 */
export function sanitizeLabelName(name: string): string {
  const s = name.replace(/[^a-zA-Z0-9_]/g, '_');
  return /^[0-9]/.test(s) ? `_${s}` : s;
}

/** Builds a sorted label set; later duplicates win. Empty values are dropped (Prometheus semantics). */
export function labelsFrom(record: Readonly<Record<string, string>> | Iterable<readonly [string, string]>): Labels {
  const map = new Map<string, string>(Symbol.iterator in record ? (record as Iterable<[string, string]>) : Object.entries(record));
  const out: Label[] = [];
  for (const [name, value] of map) if (value !== '') out.push({ name, value });
  out.sort(byName);
  return out;
}

// Module functions, not arrows written at the call: each call would make a new function object, and
// V8 drops such a site's optimized code at a full GC once the closures made for it have died.
function byName(a: Label, b: Label): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

function formatLabel(l: Label): string {
  return `${l.name}=${JSON.stringify(l.value)}`;
}

export function labelsToRecord(labels: Labels): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of labels) out[l.name] = l.value;
  return out;
}

export function getLabel(labels: Labels, name: string): string | undefined {
  for (const l of labels) if (l.name === name) return l.value;
  return undefined;
}

/** Throws an InputError naming the first problem: bad name, too many labels, too long a value. */
export function validateLabels(labels: Labels): void {
  if (labels.length > LABEL_LIMITS.maxLabels) {
    throw new InputError(`too many labels: ${labels.length} (limit ${LABEL_LIMITS.maxLabels})`);
  }
  for (const l of labels) {
    if (!isValidLabelName(l.name)) {
      throw new InputError(`invalid label name "${l.name.slice(0, 80)}": must match [a-zA-Z_][a-zA-Z0-9_]* (max ${LABEL_LIMITS.maxNameLength} chars)`);
    }
    if (l.value.length > LABEL_LIMITS.maxValueLength) {
      throw new InputError(`label ${l.name} value is ${l.value.length} chars (limit ${LABEL_LIMITS.maxValueLength})`);
    }
    // Series ids hash labels joined by NUL (ids.ts): a NUL inside a value could make one label set
    // hash like another ({a="1\0b\02"} like {a="1", b="2"}) and mix two series' data.
    if (l.value.includes('\0')) throw new InputError(`label ${l.name} value contains a NUL character`);
  }
}

/** `{a="1", b="2"}` — the Prometheus spelling, also a stable key. */
export function formatLabels(labels: Labels): string {
  return `{${labels.map(formatLabel).join(', ')}}`;
}
