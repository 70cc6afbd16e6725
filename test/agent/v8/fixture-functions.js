// Functions of several kinds for test/agent/v8/reader.test.ts, run with --allow-natives-syntax: each is
// called (compiled: its name moves into its ScopeInfo) and its SharedFunctionInfo printed by %DebugPrint.
function named() {
  return 1;
}
const arrow = () => 2;
const obj = { method() { return 3; } };
class Klass {
  m() {
    return 4;
  }
}
const locals = Array.from({ length: 80 }, (_, i) => `let v${i} = ${i};`).join(' ');
const sum = Array.from({ length: 80 }, (_, i) => `v${i}`).join(' + ');
// eslint-disable-next-line no-new-func
const manyLocals = new Function(`return function manyLocals() { ${locals} return () => ${sum}; }`)();
const anonymous = [0].map(function () {
  return function () {
    return 5;
  };
})[0];
named();
arrow();
obj.method();
new Klass().m();
manyLocals()();
anonymous();
for (const [label, fn] of Object.entries({ named, arrow, method: obj.method, m: Klass.prototype.m, manyLocals, anonymous })) {
  process.stdout.write(`@@ ${label}\n`);
  %DebugPrint(fn);
}
process.stdout.write('@@ ready\n');
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
