import { startAgent } from '../agent/agent.js';
import { readConfigFile, resolveConfig } from '../agent/config.js';
import { isInputError } from '../model/index.js';
import { agentSettings, type AgentOptions } from './agent-flags.js';

/**
 * Runs `kiln agent` with parsed options until SIGINT or SIGTERM. Flags override the YAML file given
 * with --config, which overrides the defaults shown in --help. A setting the user must change exits 2,
 * anything else 1 (src/cli/exit-codes.ts).
 */
export async function runAgent(opts: AgentOptions): Promise<void> {
  try {
    const file = typeof opts.config === 'string' ? readConfigFile(opts.config) : {};
    const agent = await startAgent(resolveConfig(file, agentSettings(opts)));
    await new Promise<void>((resolve) => {
      const stop = (sig: string) => {
        process.stderr.write(`kiln agent: ${sig}, detaching and sending the last profiles\n`);
        agent.stop().then(resolve, (e: Error) => {
          process.stderr.write(`kiln agent: ${e.message}\n`);
          resolve();
        });
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
    });
  } catch (e) {
    process.stderr.write(`kiln agent: ${(e as Error).message}\n`);
    process.exitCode = isInputError(e) ? 2 : 1;
  }
}
