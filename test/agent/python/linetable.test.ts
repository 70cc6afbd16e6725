import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { lineOf } from '../../../src/agent/python/linetable.js';

/**
 * Kiln's line-table decoders against CPython's own reading of the same table: each interpreter dumps,
 * for every code object of a module, its raw table and the line of every instruction as it computes
 * them itself (co_lines() on 3.10+, dis.findlinestarts before), and Kiln must agree on every one.
 * Debian's python3 is required; other interpreters found on the machine (pyenv's) are checked too.
 */

const DUMP = String.raw`
import dis, json, sys, types
src = '''
def f(a, b):
    if a:
        return [x * 2
                for x in range(b)]
    try:
        c = a / b
    except ZeroDivisionError:
        c = None
    return c


class K:
    def m(self, y):
        while y > 0:
            y -= 1
        return lambda z: (z +
                          y)
'''
mod = compile(src, 'mod.py', 'exec')
out = []
def walk(co):
    v = sys.version_info
    n = len(co.co_code) // 2
    if v >= (3, 10):
        lines = [0] * n
        for start, end, line in co.co_lines():
            for b in range(start, end, 2):
                if b // 2 < n:
                    lines[b // 2] = line or 0
        table = co.co_linetable
        instr = list(range(n))
    else:
        starts = dict((off, line) for off, line in dis.findlinestarts(co))
        lines, cur = [], co.co_firstlineno
        for i in range(n):
            cur = starts.get(i * 2, cur)
            lines.append(cur)
        table = co.co_lnotab
        instr = [i * 2 for i in range(n)]  # f_lasti is a byte offset before 3.10
    out.append({'first': co.co_firstlineno, 'table': table.hex(), 'instr': instr, 'lines': lines})
    for c in co.co_consts:
        if isinstance(c, types.CodeType):
            walk(c)
walk(mod)
print(json.dumps({'version': '%d.%d' % sys.version_info[:2], 'codes': out}))
`;

function interpreters(): string[] {
  const found = ['/usr/bin/python3'];
  // pyenv's interpreters, where this machine has them: more CPython versions than Debian's one.
  const pyenv = path.join(process.env.PYENV_ROOT ?? path.join(homedir(), '.pyenv'), 'versions');
  if (existsSync(pyenv)) {
    for (const v of readdirSync(pyenv)) {
      const m = /^3\.(\d+)\./.exec(v);
      if (m && Number(m[1]) >= 8 && Number(m[1]) <= 13) found.push(`${pyenv}/${v}/bin/python3`);
    }
  }
  return found.filter((p) => existsSync(p));
}

describe('CPython line tables', () => {
  it('give every instruction the line CPython itself gives it', () => {
    expect(existsSync('/usr/bin/python3'), '/usr/bin/python3 is missing: apt-get install python3').toBe(true);
    const checked: string[] = [];
    for (const python of interpreters()) {
      const dump = JSON.parse(execFileSync(python, ['-c', DUMP]).toString()) as {
        version: string;
        codes: { first: number; table: string; instr: number[]; lines: number[] }[];
      };
      let instructions = 0;
      for (const c of dump.codes) {
        const table = Buffer.from(c.table, 'hex');
        const ours = c.instr.map((i) => lineOf(dump.version, table, c.first, i));
        // CPython says 0 / None for instructions with no line (cache entries, RESUME): skip those.
        const want = c.lines.map((l, i) => (l === 0 ? ours[i] : l));
        expect(ours, `${python} (${dump.version}), code starting at line ${c.first}`).toEqual(want);
        instructions += c.instr.length;
      }
      expect(instructions).toBeGreaterThan(50);
      checked.push(dump.version);
    }
    console.log(`line tables checked for CPython ${checked.join(', ')}`);
  });
});
