import { readFileSync } from 'node:fs';

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

const LINE = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) ([0-9a-f]+) ([0-9a-f]+:[0-9a-f]+) (\d+)\s*(.*)$/;
const DELETED = ' (deleted)';

/**
 * Executable mappings of a maps listing, sorted by start. Non-executable ones are dropped: a stack
 * address can only point into code. Kernel-half pseudo mappings ([vsyscall]) do not fit a double and
 * are dropped too; those frames stay unsymbolized.
 */
export function parseMaps(text: string): CodeMapping[] {
  const out: CodeMapping[] = [];
  for (const line of text.split('\n')) {
    const m = LINE.exec(line);
    if (!m || m[3]![2] !== 'x') continue;
    const start = parseInt(m[1]!, 16);
    const end = parseInt(m[2]!, 16);
    if (!Number.isSafeInteger(end)) continue;
    let path = m[7]!;
    const deleted = path.endsWith(DELETED);
    if (deleted) path = path.slice(0, -DELETED.length);
    const inode = m[6]!;
    out.push({ start, end, offset: parseInt(m[4]!, 16), fileId: inode === '0' ? '' : `${m[5]} ${inode}`, path, deleted });
  }
  return out.sort((a, b) => a.start - b.start);
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
  try {
    return parseMaps(readFileSync(`${procRoot}/${pid}/maps`, 'latin1'));
  } catch {
    return undefined; // exited, or not ours to read
  }
}

/** Start time in clock ticks since boot (field 22 of /proc/PID/stat): tells a reused pid apart. */
export function readStartTime(pid: number, procRoot = '/proc'): string | undefined {
  try {
    const stat = readFileSync(`${procRoot}/${pid}/stat`, 'latin1');
    // comm (field 2) may contain spaces and parentheses: fields restart after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** The pid as the process's own pid namespace numbers it (last NSpid entry): JITs name perf maps by it. */
export function readNamespacePid(pid: number, procRoot = '/proc'): number {
  try {
    const status = readFileSync(`${procRoot}/${pid}/status`, 'latin1');
    const line = /^NSpid:\s*(.*)$/m.exec(status);
    const last = line?.[1]!.trim().split(/\s+/).pop();
    return last ? Number(last) : pid;
  } catch {
    return pid;
  }
}
