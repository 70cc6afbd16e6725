import { closeSync, existsSync, fstatSync, openSync } from 'node:fs';
import path from 'node:path';
import { PT_LOAD, STB_GLOBAL, bindRank, fileIdentity, withElf, type ElfFile } from './elf.js';
import { goFunctionSymbolsInto } from './go-pclntab.js';
import { NameFile } from './symbol-names.js';
import { LruCache } from '../lru.js';
import { SymbolTable, SymbolTableBuilder } from './symbol-table.js';

/**
 * What the symbolizer keeps about one mapped binary: enough to turn a file offset into an ELF virtual
 * address, and a key (GNU build id, else file identity) under which its symbol table is cached, so
 * fifty processes of one binary — or one binary in fifty containers — share one table.
 */
export interface BinaryInfo {
  /** Path as the process sees it. */
  readonly path: string;
  readonly buildId: string;
  /** Build id, or `file:<dev inode path>` when the binary has none. */
  readonly symbolsKey: string;
  /** Where the agent can open it (through /proc/PID/root, or map_files for deleted files). */
  readonly openPath: string;
  readonly loads: ReadonlyArray<{ readonly offset: number; readonly vaddr: number; readonly filesz: number }>;
}

export function readBinaryInfo(openPath: string, mappedPath: string, fileId: string): BinaryInfo {
  return withElf(openPath, (elf) => {
    const buildId = elf.buildId();
    const loads = elf.programHeaders.filter((p) => p.type === PT_LOAD).map((p) => ({ offset: p.offset, vaddr: p.vaddr, filesz: p.filesz }));
    return { path: mappedPath, buildId, symbolsKey: buildId || `file:${fileId} ${mappedPath}`, openPath, loads };
  });
}

/**
 * The headers of each binary read so far, by `key` (the caller's file identity: where /proc is, then
 * `major:minor inode path` from maps): the symbolizer and the unwinder both meet every new process's
 * binaries and would otherwise each open and read the same file. Only successes are kept; each caller
 * decides what a failure means to it.
 */
const known = new LruCache<string, BinaryInfo>(8192);

/** readBinaryInfo once per binary identity for every reader in the agent (throws as it does). */
export function binaryInfoOf(key: string, openPath: string, mappedPath: string, fileId: string): BinaryInfo {
  let bin = known.get(key);
  if (bin === undefined) known.set(key, (bin = readBinaryInfo(openPath, mappedPath, fileId)));
  return bin;
}

/** ELF virtual address of a file offset, via the PT_LOAD segment holding it. */
export function fileOffsetToVaddr(bin: BinaryInfo, fileOffset: number): number | undefined {
  for (const p of bin.loads) {
    if (fileOffset >= p.offset && fileOffset < p.offset + p.filesz) return fileOffset - p.offset + p.vaddr;
  }
  return undefined;
}

export interface DebugSearch {
  /** Global debug directories, e.g. /usr/lib/debug (holds `.build-id/xx/rest.debug`). */
  readonly debugDirectories: readonly string[];
  /** Prefix to reach the process's filesystem (/proc/PID/root), '' for the agent's own. */
  readonly rootPrefix: string;
}

/**
 * Loads the code symbols of a binary. A stripped binary (no `.symtab`) keeps only `.dynsym`; its
 * separate debug file, found by build id or `.gnu_debuglink` the way gdb looks, supplies the rest.
 */
export function loadSymbols(bin: BinaryInfo, search: DebugSearch): SymbolTable {
  const symbols = new SymbolTableBuilder();
  let stripped = true;
  let debugLink = '';
  // The path that first reached the binary may belong to a process that has exited since; the asking
  // process's own view comes first. Each must still hold the same build, not a newer file.
  // Last, the agent's own view of the path: right for a host process that has exited — only when a
  // build id can prove it is the same file.
  const candidates = [...new Set([...(search.rootPrefix ? [search.rootPrefix + bin.path] : []), bin.openPath, ...(bin.buildId ? [bin.path] : [])])];
  let lastError: unknown;
  let readFrom = '';
  let nameFile: NameFile | undefined;
  let debugFile: string | undefined;
  for (const candidate of candidates) {
    try {
      const read = withElf(candidate, (elf) => {
        if (bin.buildId && elf.buildId() !== bin.buildId) return false;
        readFrom = elf.identity;
        stripped = !elf.hasSymtab();
        debugLink = debugLinkOf(elf);
        debugFile = stripped ? findDebugFile(bin, debugLink, search) : undefined;
        // Names the table will read back from this very file need not be held while it is built: the
        // string tables are then only scanned (node's .strtab: 7.2 MiB held until its table was built).
        // Not when a debug file's names will join them: all are then copied.
        nameFile = debugFile ? undefined : openOwnView(bin.path, elf.identity);
        elf.functionSymbolsInto(symbols, nameFile ? 'unread' : 'placed');
        // A stripped Go binary still carries the runtime's own function table.
        if (stripped) goFunctionSymbolsInto(elf, symbols, bindRank(STB_GLOBAL), true);
        return true;
      });
      if (read) break;
    } catch (e) {
      lastError = e;
    }
  }
  if (symbols.length === 0 && lastError) throw lastError;
  if (stripped) {
    debugFile ??= findDebugFile(bin, debugLink, search);
    if (debugFile) {
      try {
        withElf(debugFile, (elf) => {
          // A debug file for another build would give confidently wrong names: check the id.
          if (!bin.buildId || elf.buildId() === bin.buildId) elf.functionSymbolsInto(symbols);
        });
      } catch {
        // An unreadable debug file leaves the .dynsym names, which is still better than none.
      }
    }
  }
  return new SymbolTable(symbols, undefined, nameFile ?? (readFrom ? openOwnView(bin.path, readFrom) : undefined));
}

/**
 * The `.gnu_debuglink` name, or none when that section cannot be read: a damaged link must not cost
 * the binary's own `.dynsym` names, which are read after it.
 */
function debugLinkOf(elf: ElfFile): string {
  try {
    return elf.debugLink();
  } catch {
    return '';
  }
}

/**
 * The binary the names were read from, opened through the agent's own view of the host — its root, or
 * the host's through /proc/1/root when the agent runs in a container with the host's pid namespace —
 * and only when that reaches the very same file (device and inode): a host file stays open harmlessly,
 * while a descriptor into a container's root would keep its mount busy when the container is removed
 * (those tables keep a copy of their names instead).
 */
function openOwnView(mappedPath: string, identity: string): NameFile | undefined {
  for (const own of [mappedPath, `/proc/1/root${mappedPath}`]) {
    let fd = -1;
    try {
      fd = openSync(own, 'r');
      const st = fstatSync(fd);
      if (fileIdentity(st) === identity) return new NameFile(fd, st.size);
    } catch {
      // not reachable this way
    }
    if (fd >= 0) closeSync(fd);
  }
  return undefined;
}

function findDebugFile(bin: BinaryInfo, debugLink: string, search: DebugSearch): string | undefined {
  const candidates: string[] = [];
  const roots = search.rootPrefix ? [search.rootPrefix, ''] : [''];
  if (bin.buildId.length > 2) {
    const rel = path.join('.build-id', bin.buildId.slice(0, 2), `${bin.buildId.slice(2)}.debug`);
    for (const dir of search.debugDirectories) for (const r of roots) candidates.push(r + path.join(dir, rel));
  }
  if (debugLink && !debugLink.includes('/')) {
    const dir = path.dirname(bin.path);
    for (const r of roots) {
      candidates.push(r + path.join(dir, debugLink), r + path.join(dir, '.debug', debugLink));
      for (const d of search.debugDirectories) candidates.push(r + path.join(d, dir, debugLink));
    }
  }
  const own = path.resolve(bin.openPath);
  return candidates.find((c) => path.resolve(c) !== own && existsSync(c));
}

