import { Command } from 'commander';
import { agentCommand } from '../cli/agent.js';
import { useExitCodes } from '../cli/exit-codes.js';
import { tuneMalloc } from './malloc-tuning.js';

/**
 * Entry point of `kiln agent` alone (bin/kiln.js dispatches here). The full CLI imports every verb —
 * the server's fastify, DuckDB binding and query engine — which costs the agent ≈ 35 MiB of RSS it
 * never uses; a node agent runs all the time on every host, so it loads only its own command.
 * Help text and exit codes match the full CLI's (`kiln agent --help`, usage errors exit 2).
 */
// (A malloc_trim every 10 s was measured side by side and taken out: no gain beyond the spread of two
// identical builds — docs/BENCHMARKS.md, "Issue 11: agent RSS, reused buffers".)
tuneMalloc();
const program = new Command('kiln').addCommand(agentCommand());
useExitCodes(program);
await program.parseAsync(process.argv);
