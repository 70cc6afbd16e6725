// A function for test/agent/v8/reader-tier-up.test.ts, run with --allow-natives-syntax: its
// SharedFunctionInfo is printed (%DebugPrint), then on "tier-up" V8 compiles it to baseline code
// (Sparkplug), which rewrites the object's function data and flags, not its name.
function hot(x) {
  let s = 0;
  for (let i = 0; i < x; i++) s += i % 7;
  return s;
}
hot(1);
%DebugPrint(hot);
process.stdout.write('@@ ready\n');
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => {
  if (d.includes('tier-up')) {
    %CompileBaseline(hot);
    hot(100);
    process.stdout.write('@@ tiered\n');
  }
});
process.stdin.on('end', () => process.exit(0));
