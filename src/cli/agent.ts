import { Command, Option } from 'commander';
import { AGENT_DESCRIPTION, AGENT_FLAGS, AGENT_HELP_AFTER, type AgentOptions } from './agent-flags.js';
import { runAgent } from './agent-run.js';

/**
 * `kiln agent`: the per-node eBPF profiler, as commander's command — its help text, its usage errors,
 * and the full CLI's verb. The flags are listed once, in agent-flags.ts.
 */
export function agentCommand(): Command {
  const cmd = new Command('agent').description(AGENT_DESCRIPTION);
  for (const flag of AGENT_FLAGS) {
    const option = new Option(flag.flags, flag.description);
    if (flag.env) option.env(flag.env);
    if (flag.choices) option.choices(flag.choices);
    cmd.addOption(option);
  }
  return cmd.addHelpText('after', AGENT_HELP_AFTER).action((opts: AgentOptions) => runAgent(opts));
}
