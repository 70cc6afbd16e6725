import { Command, Option } from 'commander';
import { isInputError } from '../model/index.js';
import { KilnClient } from './client.js';
import { EXIT } from './exit-codes.js';

export { EXIT };

export const DEFAULT_URL = process.env.KILN_URL ?? 'http://localhost:4040';

/** --url and --tenant, shared by every verb that talks to a server. */
export function withServerOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--url <url>', 'Kiln server to talk to (env KILN_URL)').default(DEFAULT_URL))
    .addOption(new Option('--tenant <id>', 'tenant (sent as X-Scope-OrgID); default: anonymous'));
}

export function clientFrom(opts: { url: string; tenant?: string }): KilnClient {
  return new KilnClient({ url: opts.url, tenant: opts.tenant });
}

/**
 * Runs a command body and turns failures into a message and an exit code:
 * 2 when the user must change something (bad flag, selector, file, a 4xx), 1 for everything else.
 */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (e) {
      const err = e as Error;
      process.stderr.write(`kiln: ${err.message}\n`);
      if (process.env.KILN_DEBUG && err.stack) process.stderr.write(`${err.stack}\n`);
      process.exitCode = isInputError(e) ? EXIT.badInput : EXIT.failure;
    }
  };
}

/** Writes to stdout and resolves once flushed, so piping into `head` or a file is complete. */
export function out(text: string): Promise<void> {
  return new Promise((resolve) => {
    if (process.stdout.write(text.endsWith('\n') || text === '' ? text : `${text}\n`)) resolve();
    else process.stdout.once('drain', () => resolve());
  });
}
