import { parseAgentArgs } from '../cli/agent-flags.js';
import { runAgent } from '../cli/agent-run.js';
import { tuneMalloc } from './malloc-tuning.js';

/**
 * Entry point of `kiln agent` alone (bin/kiln.js dispatches here). The full CLI imports every verb —
 * the server's fastify, DuckDB binding and query engine — which costs the agent ≈ 35 MiB of RSS it
 * never uses; a node agent runs all the time on every host, so it loads only its own command. A valid
 * command line is parsed without commander (≈ 3 MiB less); --help and usage errors are commander's,
 * loaded only then, so the help text and exit codes match the full CLI's (usage errors exit 2).
 */
// (A malloc_trim every 10 s was measured side by side and taken out: no gain beyond the spread of two
// identical builds — docs/BENCHMARKS.md, "Issue 11: agent RSS, reused buffers".)
tuneMalloc();
const opts = process.argv[2] === 'agent' ? parseAgentArgs(process.argv.slice(3)) : undefined;
if (opts) {
  await runAgent(opts);
} else {
  const [{ Command }, { agentCommand }, { useExitCodes }] = await Promise.all([
    import('commander'),
    import('../cli/agent.js'),
    import('../cli/exit-codes.js'),
  ]);
  const program = new Command('kiln').addCommand(agentCommand());
  useExitCodes(program);
  await program.parseAsync(process.argv);
}
