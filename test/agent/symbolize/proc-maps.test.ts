import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseMaps, parseMapsBytes, readMaps, readProcText } from '../../../src/agent/symbolize/proc-maps.js';

const LISTING = [
  '55d0c0a00000-55d0c0a28000 r--p 00000000 08:01 1311 /usr/bin/python3.11',
  '55d0c0a28000-55d0c0d1b000 r-xp 00028000 08:01 1311 /usr/bin/python3.11',
  '55d0c2000000-55d0c2100000 rw-p 00000000 00:00 0 [heap]',
  '7f2a10000000-7f2a10001000 rwxp 00000000 00:00 0 ',
  '7f2a20028000-7f2a2019d000 r-xp 00028000 08:01 2621 /usr/lib/x86_64-linux-gnu/libc.so.6',
  '7f2a30000000-7f2a30010000 r-xp 00001000 fd:02 777 /tmp/app (deleted)',
  '7ffd4a9f2000-7ffd4a9f4000 r-xp 00000000 00:00 0 [vdso]',
  'ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0 [vsyscall]',
].join('\n');

let root: string | undefined;
afterEach(() => {
  if (root) rmSync(root, { recursive: true, force: true });
  root = undefined;
});

describe('parseMapsBytes', () => {
  it('keeps the executable mappings, with offsets, file ids, deleted files and pseudo names', () => {
    const expected = [
      { start: 0x55d0c0a28000, end: 0x55d0c0d1b000, offset: 0x28000, fileId: '08:01 1311', path: '/usr/bin/python3.11', deleted: false },
      { start: 0x7f2a10000000, end: 0x7f2a10001000, offset: 0, fileId: '', path: '', deleted: false },
      { start: 0x7f2a20028000, end: 0x7f2a2019d000, offset: 0x28000, fileId: '08:01 2621', path: '/usr/lib/x86_64-linux-gnu/libc.so.6', deleted: false },
      { start: 0x7f2a30000000, end: 0x7f2a30010000, offset: 0x1000, fileId: 'fd:02 777', path: '/tmp/app', deleted: true },
      { start: 0x7ffd4a9f2000, end: 0x7ffd4a9f4000, offset: 0, fileId: '', path: '[vdso]', deleted: false },
    ];
    // Sorted by start whatever the listing's order.
    expect(parseMaps(LISTING.split('\n').reverse().join('\n'))).toEqual(expected);
    const bytes = Buffer.from(`${LISTING}\n`, 'latin1');
    expect(parseMapsBytes(bytes, bytes.length)).toEqual(expected);
    // Without the final newline, and with bytes past `length` that are not part of the listing.
    const unterminated = Buffer.concat([Buffer.from(LISTING, 'latin1'), Buffer.from('\n7f00-7f01 r-xp 0 08:01 9 /x\n')]);
    expect(parseMapsBytes(unterminated, LISTING.length)).toEqual(expected);
    // Lines it does not know are skipped, not misread.
    expect(parseMaps('garbage\n7f00-zz r-xp 0 08:01 9 /x\n7f00-7f01 r-x\n\n')).toEqual([]);
  });

  it('agrees with a field-by-field reading of this process own maps', () => {
    const text = readFileSync('/proc/self/maps', 'latin1');
    const byFields = text.split('\n').flatMap((line) => {
      const [range, perms, offset, dev, inode, ...rest] = line.split(/ +/);
      if (!range || perms?.[2] !== 'x') return [];
      const [start, end] = range.split('-').map((h) => parseInt(h, 16)) as [number, number];
      if (!Number.isSafeInteger(end)) return [];
      const path = rest.join(' ');
      return [{ start, end, offset: parseInt(offset!, 16), fileId: inode === '0' ? '' : `${dev} ${inode}`, path: path.replace(/ \(deleted\)$/, ''), deleted: path.endsWith(' (deleted)') }];
    });
    expect(parseMaps(text)).toEqual(byFields.sort((a, b) => a.start - b.start));
    expect(byFields.length).toBeGreaterThan(3);
  });

  it('reads this process own maps as the text parser does', () => {
    const text = readFileSync('/proc/self/maps', 'latin1');
    const fromText = parseMaps(text);
    const fromBytes = readMaps(process.pid)!;
    // The listing may change between the two reads (allocations): compare the binaries' mappings.
    const files = (ms: typeof fromText) => ms.filter((m) => m.path.startsWith('/')).map((m) => `${m.start} ${m.path}`);
    expect(files(fromBytes)).toEqual(files(fromText));
    expect(fromBytes.some((m) => m.path === process.execPath || m.path.endsWith('/node'))).toBe(true);
  });

  it('reads a listing larger than the read buffer, and answers undefined for a gone process', () => {
    root = mkdtempSync(path.join(tmpdir(), 'kiln-proc-maps-'));
    mkdirSync(path.join(root, '7'));
    const data = Array.from({ length: 2000 }, (_, i) => `${(0x10000 + i * 2).toString(16)}000-${(0x10001 + i * 2).toString(16)}000 rw-p 00000000 00:00 0 `);
    const big = `${data.slice(0, 1000).join('\n')}\n${LISTING}\n${data.slice(1000).join('\n')}\n`;
    expect(big.length).toBeGreaterThan(64 * 1024);
    writeFileSync(path.join(root, '7', 'maps'), big);
    expect(readMaps(7, root)).toEqual(parseMaps(LISTING));
    expect(readProcText(path.join(root, '7', 'maps'))).toBe(big);
    expect(readMaps(8, root)).toBeUndefined();
  });
});
