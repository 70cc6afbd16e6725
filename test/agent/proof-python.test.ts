import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { Profile as PprofProfile } from 'pprof-format';
import { afterAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.js';
import { CPU, profileWorkload } from './proof-support.js';
import { requireBpf } from './require-bpf.js';

let server: TestServer | undefined;
afterAll(async () => {
  await server?.close();
});

const SCRIPT = fileURLToPath(new URL('./fixtures/fg.py', import.meta.url));
/** Debian's own interpreter, built without frame pointers (not a pyenv or venv one). */
const PYTHON = '/usr/bin/python3';

/** The line of the script holding `text` (1-based). */
function lineOf(text: string): number {
  const i = readFileSync(SCRIPT, 'utf8').split('\n').findIndex((l) => l.includes(text));
  if (i < 0) throw new Error(`fg.py has no line with "${text}"`);
  return i + 1;
}

interface Frame {
  readonly name: string;
  readonly file: string;
  readonly line: number;
}

/** The server's merged profile of a process as pprof, read by pprof-format: each sample's frames, leaf first. */
async function pprofStacks(serverUrl: string, pid: number): Promise<{ frames: Frame[]; value: number }[]> {
  const q = new URLSearchParams({ query: `${CPU}{pid="${pid}"}`, from: 'now-15m', until: 'now+1m', format: 'pprof' });
  const res = await fetch(`${serverUrl}/api/v1/flamegraph?${q.toString()}`);
  if (!res.ok) throw new Error(`pprof export failed: HTTP ${res.status} ${await res.text()}`);
  const p = PprofProfile.decode(gunzipSync(Buffer.from(await res.arrayBuffer())));
  const str = (i: number | bigint) => p.stringTable.strings[Number(i)] ?? '';
  const fns = new Map(p.function.map((f) => [Number(f.id), f]));
  const locs = new Map(p.location.map((l) => [Number(l.id), l]));
  return p.sample.map((s) => ({
    value: Number(s.value[0] ?? 0),
    frames: s.locationId.flatMap((id) =>
      (locs.get(Number(id))?.line ?? []).map((ln) => {
        const fn = fns.get(Number(ln.functionId));
        return { name: str(fn?.name ?? 0), file: str(fn?.filename ?? 0), line: Number(ln.line) };
      }),
    ),
  }));
}

describe('proof: CPython frames read in BPF from the interpreter (real eBPF agent, Debian python3, real server)', () => {
  it('shows f → g, with file and line, in ≥ 90 % of the samples of a script where g burns', { timeout: 90_000 }, async () => {
    requireBpf();
    expect(existsSync(PYTHON), `${PYTHON} is missing: apt-get install python3`).toBe(true);
    server = await startTestServer();
    const workload = await profileWorkload(server.url, PYTHON, [SCRIPT, '20']);
    const stacks = await pprofStacks(server.url, workload.pid);
    expect(stacks.length, 'the server has no profile for the python pid').toBeGreaterThan(0);

    const total = stacks.reduce((n, s) => n + s.value, 0);
    const callLine = lineOf('total += g()');
    const gLines = [lineOf('for i in range'), lineOf('x += i * i')];
    let fg = 0;
    let withLines = 0;
    for (const s of stacks) {
      const at = s.frames.findIndex((f) => f.name === 'g' && f.file === SCRIPT);
      const caller = at >= 0 ? s.frames[at + 1] : undefined;
      if (!caller || caller.name !== 'f' || caller.file !== SCRIPT) continue;
      fg += s.value;
      // g at one of its loop lines, f at the line that calls g.
      if (gLines.includes(s.frames[at]!.line) && caller.line === callLine) withLines += s.value;
    }
    const heaviest = [...stacks].sort((a, b) => b.value - a.value).slice(0, 3).map((s) => s.frames.map((f) => `${f.name}${f.line ? `:${f.line}` : ''}`).join(' <- '));
    console.log(`proof-python: ${((100 * fg) / total).toFixed(1)} % of ${(total / 1e9).toFixed(2)} s of samples show f → g, ${((100 * withLines) / total).toFixed(1)} % with g's loop line and f's call line`);
    console.log(heaviest.join('\n'));
    expect((100 * fg) / total, `share of samples with f → g; heaviest stacks:\n${heaviest.join('\n')}`).toBeGreaterThanOrEqual(90);
    expect((100 * withLines) / total, `share with file and line: g at lines ${gLines.join('/')}, f at line ${callLine}`).toBeGreaterThanOrEqual(90);
  });
});
