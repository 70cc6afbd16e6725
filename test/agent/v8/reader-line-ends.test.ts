import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readV8Binary } from '../../../src/agent/v8/constants.js';
import { V8FrameReader } from '../../../src/agent/v8/reader.js';
import { startScript } from './live-script.js';

let child: ChildProcess | undefined;
const dir = mkdtempSync(path.join(tmpdir(), 'kiln-v8-ends-'));
afterAll(() => {
  child?.stdin?.end();
  child?.kill();
  rmSync(dir, { recursive: true, force: true });
});

describe('V8FrameReader and a script whose line ends V8 computed', () => {
  it('names each function with its own first line, read again after the process was forgotten', async () => {
    const bin = readV8Binary(process.execPath);
    if (!bin) throw new Error(`${process.execPath} lacks V8's post-mortem constants (v8dbg_* symbols)`);
    // Three functions at known lines; an Error's stack trace makes V8 compute the script's line ends.
    const lines = ['function first() { return 1; }', '', '// a comment', 'function second() { return 2; }', ...Array.from({ length: 50 }, (_, i) => `// filler ${i}`), 'function third() { return 3; }'];
    lines.push('first(); second(); third();', 'void new Error().stack;', 'for (const f of [first, second, third]) %DebugPrint(f);', "process.stdout.write('@@ ready\\n');", "process.stdin.on('data', () => {});");
    const started = await startScript(dir, 'ends.js', lines);
    child = started.child;
    const text = started.text;
    const sfis = [...text.matchAll(/- shared_info: (0x[0-9a-f]+)/g)].map((m) => Number(m[1]));
    expect(sfis).toHaveLength(3);
    const pid = child.pid!;
    const reader = new V8FrameReader({ of: () => ({ constants: bin.constants }) });
    const expected = [
      { name: 'first', line: 1 },
      { name: 'second', line: 4 },
      { name: 'third', line: 55 },
    ];
    const read = () => sfis.map((sfi) => reader.frame(pid, sfi)).map((f) => f && { name: f.name, line: f.line });
    expect(read()).toEqual(expected);
    reader.forget(pid);
    expect(read()).toEqual(expected);
    expect(reader.stats()).toMatchObject({ v8Reads: 6, v8Named: 6 });
  });
});
