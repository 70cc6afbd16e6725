import { InputError } from '../model/errors.js';
import { parseDuration } from '../query/time.js';

/**
 * A mapping read from a YAML file that knows where it sits (`kiln.yaml: metrics.window`), so every
 * mistake in the metrics, rules, alerting and remote-write settings names the file and the key.
 */
export class Section {
  private constructor(
    readonly file: string,
    /** Dotted path of this mapping in the file ('' = the top). */
    readonly path: string,
    private readonly o: Record<string, unknown>,
  ) {}

  static of(v: unknown, file: string, path: string): Section {
    if (v === null || v === undefined) return new Section(file, path, {});
    if (typeof v !== 'object' || Array.isArray(v)) throw new InputError(`${file}: ${path || 'the file'} must be a mapping of keys to values`);
    return new Section(file, path, v as Record<string, unknown>);
  }

  /** `file: path.key` — the start of every message about `key`. */
  where(key: string): string {
    return `${this.file}: ${this.path ? `${this.path}.` : ''}${key}`;
  }

  has(key: string): boolean {
    return this.o[key] !== undefined && this.o[key] !== null;
  }

  raw(key: string): unknown {
    return this.o[key];
  }

  /** Refuses keys outside `allowed`, naming the known ones (a typo must not be silently ignored). */
  allowOnly(allowed: readonly string[]): void {
    for (const k of Object.keys(this.o)) {
      if (!allowed.includes(k)) throw new InputError(`${this.where(k)} is not a setting here (known: ${allowed.join(', ')})`);
    }
  }

  string(key: string): string | undefined {
    const v = this.o[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string' || v === '') throw new InputError(`${this.where(key)} must be a non-empty string`);
    return v;
  }

  requiredString(key: string): string {
    const v = this.string(key);
    if (v === undefined) throw new InputError(`${this.where(key)} is missing`);
    return v;
  }

  /** An http:// or https:// URL (Alertmanager, remote write, links), as written. */
  httpUrl(key: string): string | undefined {
    const v = this.string(key);
    if (v === undefined) return undefined;
    let u: URL;
    try {
      u = new URL(v);
    } catch {
      throw new InputError(`${this.where(key)}: "${v}" is not a URL`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new InputError(`${this.where(key)}: "${v}" must be an http:// or https:// URL`);
    return v;
  }

  boolean(key: string, dflt: boolean): boolean {
    const v = this.o[key];
    if (v === undefined || v === null) return dflt;
    if (typeof v !== 'boolean') throw new InputError(`${this.where(key)} must be true or false`);
    return v;
  }

  int(key: string, dflt: number, min: number, max: number): number {
    const v = this.o[key];
    if (v === undefined || v === null) return dflt;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new InputError(`${this.where(key)} must be a whole number from ${min} to ${max}`);
    return v;
  }

  /** A duration with a unit (`30s`, `1m`, `1h30m`); a bare number is refused, it reads ambiguously. */
  duration(key: string, dfltMs: number, minMs: number): number {
    const v = this.o[key];
    if (v === undefined || v === null) return dfltMs;
    if (v === 0 || v === '0') {
      if (minMs > 0) throw new InputError(`${this.where(key)} must be at least ${minMs} ms`);
      return 0;
    }
    if (typeof v !== 'string' || /^\s*\d+(\.\d+)?\s*$/.test(v)) throw new InputError(`${this.where(key)} must be a duration with a unit, e.g. 30s, 1m, 1h`);
    let ms: number;
    try {
      ms = parseDuration(v);
    } catch (e) {
      throw new InputError(`${this.where(key)}: ${(e as Error).message}`);
    }
    if (ms < minMs) throw new InputError(`${this.where(key)} must be at least ${minMs} ms, got ${v}`);
    return ms;
  }

  stringList(key: string): string[] | undefined {
    const v = this.o[key];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' && x !== '')) throw new InputError(`${this.where(key)} must be a list of non-empty strings`);
    return v as string[];
  }

  /** A mapping of string keys to strings (labels, annotations, headers); numbers and booleans are taken as their text. */
  stringMap(key: string): Record<string, string> {
    const s = this.section(key);
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(s.o)) {
      if (typeof v === 'string') out[k] = v;
      else if (typeof v === 'number' || typeof v === 'boolean') out[k] = String(v);
      else throw new InputError(`${s.where(k)} must be a string`);
    }
    return out;
  }

  section(key: string): Section {
    return Section.of(this.o[key], this.file, this.path ? `${this.path}.${key}` : key);
  }

  /** The items of a list as sections (`rules[2]`); [] when the key is absent. */
  sections(key: string): Section[] {
    const v = this.o[key];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) throw new InputError(`${this.where(key)} must be a list`);
    const base = this.path ? `${this.path}.${key}` : key;
    return v.map((item, i) => Section.of(item, this.file, `${base}[${i}]`));
  }
}
