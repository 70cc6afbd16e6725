import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, readSync, rmSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { readV8Binary } from '../../../src/agent/v8/constants.js';
import { SFI_HEAD_BYTES } from '../../../src/agent/v8/heap.js';
import { V8FrameReader } from '../../../src/agent/v8/reader.js';

const FIXTURE = fileURLToPath(new URL('./fixture-tier-up.js', import.meta.url));
let child: ChildProcess | undefined;
const dir = mkdtempSync(path.join(tmpdir(), 'kiln-v8-tier-'));
afterAll(() => {
  child?.stdin?.end();
  child?.kill();
  rmSync(dir, { recursive: true, force: true });
});

async function until(file: string, re: RegExp): Promise<string> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const text = readFileSync(file, 'utf8');
    if (re.test(text)) return text;
    if (Date.now() > deadline) throw new Error(`the fixture did not print ${re}:\n${text.slice(0, 2000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The object's first bytes, as the reader's re-check reads them. */
function head(pid: number, sfi: number): Buffer {
  const fd = openSync(`/proc/${pid}/mem`, 'r');
  try {
    const b = Buffer.alloc(SFI_HEAD_BYTES);
    readSync(fd, b, 0, b.length, sfi - 1);
    return b;
  } finally {
    closeSync(fd);
  }
}

describe('V8FrameReader and a function V8 tiers up', () => {
  it('keeps the name of a function compiled to baseline code between intervals without reading it afresh', async () => {
    const bin = readV8Binary(process.execPath);
    if (!bin) throw new Error(`${process.execPath} lacks V8's post-mortem constants (v8dbg_* symbols)`);
    const out = path.join(dir, 'out.txt');
    child = spawn('stdbuf', ['-o0', process.execPath, '--allow-natives-syntax', FIXTURE], { stdio: ['pipe', openSync(out, 'w'), 'inherit'] });
    const text = await until(out, /@@ ready/);
    const sfi = Number(/- shared_info: (0x[0-9a-f]+)/.exec(text)![1]);
    const pid = child.pid!;
    const reader = new V8FrameReader({ of: () => ({ constants: bin.constants }) });
    expect(reader.frame(pid, sfi)?.name).toBe('hot');
    const before = head(pid, sfi);
    child.stdin!.write('tier-up\n');
    await until(out, /@@ tiered/);
    // Tiering up rewrote the object's head (its function data at least): the old whole-head check read it afresh.
    expect(head(pid, sfi).equals(before)).toBe(false);
    reader.nextInterval();
    expect(reader.frame(pid, sfi)).toMatchObject({ name: 'hot', file: pathToFileURL(FIXTURE).href });
    expect(reader.stats()).toMatchObject({ v8Reads: 1, v8Revalidations: 1, v8Changed: 0 });
  });
});
