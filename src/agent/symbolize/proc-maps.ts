import { closeSync, existsSync, openSync, readlinkSync, readSync } from 'node:fs';
import { procmapQueryUsable, queryExecutableMappings } from './procmap-query.js';

/** One line of /proc/PID/maps that can hold code. */
export interface CodeMapping {
  readonly start: number;
  readonly end: number;
  /** Offset in the file of `start` (0 for anonymous memory). */
  readonly offset: number;
  /** `major:minor inode` of the file, '' for anonymous memory: with the path it identifies the binary. */
  readonly fileId: string;
  /** Path as the process sees it, `[anon:…]`/`[vdso]` pseudo names, or '' for plain anonymous memory. */
  readonly path: string;
  /** The file was deleted or replaced after mapping (path had ` (deleted)`). */
  readonly deleted: boolean;
}

const DELETED = ' (deleted)';

/**
 * Executable mappings of a maps listing, sorted by start. Non-executable ones are dropped: a stack
 * address can only point into code. Kernel-half pseudo mappings ([vsyscall]) do not fit a double and
 * are dropped too; those frames stay unsymbolized.
 */
export function parseMaps(text: string): CodeMapping[] {
  const bytes = Buffer.from(text, 'latin1');
  return parseMapsBytes(bytes, bytes.length);
}

/**
 * parseMaps over the bytes of a listing as read (`length` of them): fields are read from the bytes, and
 * an executable line makes two strings (its path and file id). A process maps hundreds of lines of data
 * (a node process ≈ 250 lines, 15 KiB, of which ≈ 20 executable); decoding the whole listing, splitting
 * it and matching each executable line with a pattern allocated ≈ 21 KiB per read of such a process.
 */
export function parseMapsBytes(bytes: Buffer, length: number): CodeMapping[] {
  const out: CodeMapping[] = [];
  let pos = 0;
  while (pos < length) {
    let eol = bytes.indexOf(NL, pos);
    if (eol < 0 || eol > length) eol = length;
    const m = mappingAt(bytes, pos, eol);
    if (m) out.push(m);
    pos = eol + 1;
  }
  return out.sort(byStart);
}

const NL = 0x0a;
const SPACE = 0x20;
const DASH = 0x2d;
const COLON = 0x3a;
const X = 0x78;
const byStart = (a: CodeMapping, b: CodeMapping) => a.start - b.start;

/** Value of a lower-case hex digit, -1 for anything else. */
function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/**
 * The mapping of line `[pos, eol)` — `start-end perms offset major:minor inode [path]` — if it is
 * executable and well formed; undefined otherwise (data, or a line this parser does not know).
 */
function mappingAt(b: Buffer, pos: number, eol: number): CodeMapping | undefined {
  let i = pos;
  let start = 0;
  for (let d; i < eol && (d = hexDigit(b[i]!)) >= 0; i++) start = start * 16 + d;
  if (i === pos || b[i] !== DASH) return undefined;
  const endAt = ++i;
  let end = 0;
  for (let d; i < eol && (d = hexDigit(b[i]!)) >= 0; i++) end = end * 16 + d;
  // perms: four characters, the third 'x' for code.
  if (i === endAt || b[i] !== SPACE || i + 5 >= eol || b[i + 3] !== X || b[i + 5] !== SPACE) return undefined;
  i += 6;
  const offsetAt = i;
  let offset = 0;
  for (let d; i < eol && (d = hexDigit(b[i]!)) >= 0; i++) offset = offset * 16 + d;
  if (i === offsetAt || b[i] !== SPACE) return undefined;
  const devAt = ++i;
  while (i < eol && (hexDigit(b[i]!) >= 0 || b[i] === COLON)) i++;
  if (i === devAt || b[i] !== SPACE) return undefined;
  const inodeAt = ++i;
  while (i < eol && b[i]! >= 0x30 && b[i]! <= 0x39) i++;
  if (i === inodeAt || (i < eol && b[i] !== SPACE)) return undefined;
  // Past 2^53: kernel-half pseudo mappings ([vsyscall]).
  if (!Number.isSafeInteger(end)) return undefined;
  const anonymous = i === inodeAt + 1 && b[inodeAt] === 0x30;
  const fileId = anonymous ? '' : b.toString('latin1', devAt, i);
  while (i < eol && b[i] === SPACE) i++;
  let path = i < eol ? b.toString('latin1', i, eol) : '';
  const deleted = path.endsWith(DELETED);
  if (deleted) path = path.slice(0, -DELETED.length);
  return { start, end, offset, fileId, path, deleted };
}

export function isFileBacked(m: CodeMapping): boolean {
  return m.fileId !== '' && m.path.startsWith('/');
}

/** The mapping holding `address`, by binary search over sorted mappings. */
export function findMapping(mappings: readonly CodeMapping[], address: number): CodeMapping | undefined {
  let lo = 0;
  let hi = mappings.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const m = mappings[mid]!;
    if (address < m.start) hi = mid - 1;
    else if (address >= m.end) lo = mid + 1;
    else return m;
  }
  return undefined;
}

export function readMaps(pid: number, procRoot = '/proc'): CodeMapping[] | undefined {
  const path = `${procRoot}/${pid}/maps`;
  if (procmapQueryUsable()) {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch {
      return undefined; // exited, or not ours to read
    }
    try {
      // Only the executable mappings, asked one by one (procmap-query.ts); undefined: read the text.
      const asked = queryExecutableMappings(fd);
      if (asked !== undefined) return asked;
    } finally {
      closeSync(fd);
    }
  }
  return readMapsText(pid, procRoot);
}

/** readMaps through the text listing (every mapping formatted by the kernel, the executable ones parsed here). */
export function readMapsText(pid: number, procRoot = '/proc'): CodeMapping[] | undefined {
  const n = readProcBytes(`${procRoot}/${pid}/maps`);
  return n < 0 ? undefined : parseMapsBytes(scratch, n); // undefined: exited, or not ours to read
}

/** A listing of maps as the unwinder read it, for the symbolizer (takeMaps). */
export interface MapsListing {
  readonly mappings: CodeMapping[];
  /** Date.now() when it was read. */
  readonly readAt: number;
}

/**
 * Listings the unwinder read (readMapsShared) that the symbolizer has not taken yet, by process: the
 * unwinder reads a new process's maps when it loads it, and the symbolizer, at the next interval, would
 * read the same listing again (each read costs 70–180 µs, mostly the syscall, stop 20). Each is taken
 * once; bounded (the oldest go first), as a process loaded but never sampled again is never taken.
 */
const listings = new Map<string, MapsListing & { readonly startTime: string }>();
const MAX_LISTINGS = 64;

/** readMaps, kept for takeMaps() under the process's start time (which tells a reused pid apart). */
export function readMapsShared(pid: number, startTime: string, procRoot = '/proc'): CodeMapping[] | undefined {
  const mappings = readMaps(pid, procRoot);
  const key = `${procRoot}/${pid}`;
  listings.delete(key);
  if (mappings === undefined) return undefined;
  if (listings.size >= MAX_LISTINGS) listings.delete(listings.keys().next().value!);
  listings.set(key, { mappings, readAt: Date.now(), startTime });
  return mappings;
}

/** Forgets the process's listing: it ran exec (the same pid and start time, another program's mappings). */
export function forgetMaps(pid: number, procRoot = '/proc'): void {
  listings.delete(`${procRoot}/${pid}`);
}

/** Takes the listing readMapsShared read for this process (same start time) at most `maxAgeMs` ago, if any. */
export function takeMaps(pid: number, startTime: string, maxAgeMs: number, procRoot = '/proc'): MapsListing | undefined {
  const key = `${procRoot}/${pid}`;
  const l = listings.get(key);
  if (l === undefined) return undefined;
  listings.delete(key);
  return l.startTime === startTime && Date.now() - l.readAt <= maxAgeMs ? l : undefined;
}

/**
 * Reads a small /proc file into one reused buffer: readFileSync costs ≈ 5× more on /proc files (they
 * report size 0, so it reads in growing chunks and allocates each time) — 94 µs against 18 µs for
 * /proc/PID/stat on the shared test host, and the agent reads one per sampled process per interval.
 * undefined when the file cannot be opened or read (the process exited).
 */
export function readProcText(path: string, wholeInOneRead = false): string | undefined {
  const n = readProcBytes(path, wholeInOneRead);
  return n < 0 ? undefined : scratch.toString('latin1', 0, n);
}

/**
 * Reads a /proc file into `scratch` (valid until the next read): its length, -1 when unreadable.
 * `wholeInOneRead`: the file is produced whole by its first read (the kernel's single_open files: stat, status,
 * cgroup, uptime), so a read that did not fill the buffer was all of it — one read syscall instead of a
 * second that returns 0. Not for maps, whose reads stop at each page.
 */
function readProcBytes(path: string, wholeInOneRead = false): number {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return -1;
  }
  try {
    let n = 0;
    for (;;) {
      if (n === scratch.length) scratch = Buffer.concat([scratch, Buffer.alloc(scratch.length)]);
      const space = scratch.length - n;
      const got = readSync(fd, scratch, n, space, null);
      if (got === 0) break;
      n += got;
      if (wholeInOneRead && got < space) break;
    }
    return n;
  } catch {
    return -1;
  } finally {
    closeSync(fd);
  }
}
/** Grows to the largest file read (a big process's maps: tens of KiB). */
let scratch = Buffer.alloc(16 * 1024);

/**
 * Whether /proc still has the pid: a stat of the directory, no exception. Most pids of a churning host
 * are gone by the time their samples are read, and a failed open costs ≈ 40 µs of which most is the
 * thrown error; this answers in ≈ 5 µs.
 */
export function processExists(pid: number, procRoot = '/proc'): boolean {
  return existsSync(`${procRoot}/${pid}`);
}

/** What one read of /proc/PID/stat tells: start time (tells a reused pid apart) and the process name. */
export interface ProcStat {
  /** Clock ticks since boot (field 22). */
  readonly startTime: string;
  /** The main thread's name (field 2), as /proc/PID/comm gives it. */
  readonly comm: string;
}

/**
 * Inside oneStatReadEach(fn), each process's stat is read once: the interval labels every sampled
 * process and then checks its symbolizer snapshot against the same start time, and the unwinder's poll
 * dates a new process and then labels it — two reads of the same file within one synchronous pass (of
 * the ≈ 20–40 µs each costs, for every sampled process every interval). Outside it every call reads.
 */
let statMemo: Map<string, ProcStat | undefined> | undefined;
/** The same for the exe link: the unwinder's load labels the process (which reads it) and reads it too. */
let exeMemo: Map<string, string> | undefined;
/** Start times vouched for inside the pass, see oneStatReadEach. */
let vouched: ((pid: number) => string | undefined) | undefined;

/**
 * `vouch`: start times readStartTime may take without reading, for processes whose exit and exec the
 * caller would have heard of (the unwinder's loaded processes: the BPF program reports both). The agent's
 * interval asks the start time of each sampled process twice (its labels, its symbolizer snapshot) to
 * tell a reused pid apart; for the long-lived ones it is this answer instead of four syscalls each.
 */
export function oneStatReadEach<T>(fn: () => T, vouch?: (pid: number) => string | undefined): T {
  if (statMemo) return fn();
  statMemo = new Map();
  exeMemo = new Map();
  vouched = vouch;
  try {
    return fn();
  } finally {
    statMemo = undefined;
    exeMemo = undefined;
    vouched = undefined;
  }
}

/** The executable's path (`/proc/PID/exe`, without ` (deleted)`), '' when unreadable (kernel thread, gone). */
export function readExe(pid: number, procRoot = '/proc'): string {
  const link = `${procRoot}/${pid}/exe`;
  const known = exeMemo?.get(link);
  if (known !== undefined) return known;
  let exe = '';
  try {
    exe = readlinkSync(link).replace(/ \(deleted\)$/, '');
  } catch {
    // kernel threads have no exe; exited processes have nothing
  }
  exeMemo?.set(link, exe);
  return exe;
}

export function readStat(pid: number, procRoot = '/proc'): ProcStat | undefined {
  if (!statMemo) return readStatNow(pid, procRoot);
  const key = `${procRoot}/${pid}`;
  if (statMemo.has(key)) return statMemo.get(key);
  const stat = readStatNow(pid, procRoot);
  statMemo.set(key, stat);
  return stat;
}

function readStatNow(pid: number, procRoot: string): ProcStat | undefined {
  if (!processExists(pid, procRoot)) return undefined;
  const stat = readProcText(`${procRoot}/${pid}/stat`, true);
  if (stat === undefined) return undefined;
  // comm (field 2) may contain spaces and parentheses: fields restart after the last ')'.
  const close = stat.lastIndexOf(')');
  const startTime = stat.slice(close + 2).split(' ', 20)[19];
  return startTime === undefined ? undefined : { startTime, comm: stat.slice(stat.indexOf('(') + 1, close) };
}

/**
 * Inside a oneStatReadEach pass: takes `stat`, read by the caller in an earlier pass, as this pass's
 * read of the process's stat, so the readers after it (the labeler) do not read it again. The caller
 * answers for it still being that process (the unwinder: no exit or exec of it reported since).
 * Outside a pass it does nothing.
 */
export function knownStat(pid: number, stat: ProcStat, procRoot = '/proc'): void {
  statMemo?.set(`${procRoot}/${pid}`, stat);
}

/** Start time in clock ticks since boot (field 22 of /proc/PID/stat): tells a reused pid apart. */
export function readStartTime(pid: number, procRoot = '/proc'): string | undefined {
  return vouchedStartTime(pid) ?? readStat(pid, procRoot)?.startTime;
}

/** The start time the current oneStatReadEach pass vouches for (no read), undefined otherwise. */
export function vouchedStartTime(pid: number): string | undefined {
  return vouched?.(pid);
}

/** The pid as the process's own pid namespace numbers it (last NSpid entry): JITs name perf maps by it. */
export function readNamespacePid(pid: number, procRoot = '/proc'): number {
  const status = readProcText(`${procRoot}/${pid}/status`, true);
  const line = status === undefined ? undefined : /^NSpid:\s*(.*)$/m.exec(status);
  const last = line?.[1]!.trim().split(/\s+/).pop();
  return last ? Number(last) : pid;
}
