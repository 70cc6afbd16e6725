import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { InputError, isInputError } from '../model/index.js';
import { KilnClient } from './client.js';
import { EXIT } from './exit-codes.js';

export { EXIT };

export const DEFAULT_URL = process.env.KILN_URL ?? 'http://localhost:4040';

/** --url, --tenant and --token-file, shared by every verb that talks to a server. */
export function withServerOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--url <url>', 'Kiln server to talk to (env KILN_URL)').default(DEFAULT_URL))
    .addOption(new Option('--tenant <id>', 'tenant (sent as X-Scope-OrgID); default: anonymous, or the token\'s first tenant'))
    .addOption(new Option('--token-file <file>', 'file holding the token for a server with auth (sent as "Authorization: Bearer <token>")'));
}

export function clientFrom(opts: { url: string; tenant?: string; tokenFile?: string }): KilnClient {
  return new KilnClient({ url: opts.url, tenant: opts.tenant, token: readTokenFile(opts.tokenFile) });
}

/**
 * The token in a --token-file, trimmed. A file rather than a flag: a flag's value is visible to every
 * user of the machine in the process list and stays in shell history.
 */
export function readTokenFile(file: string | undefined): string | undefined {
  if (file === undefined) return undefined;
  let token: string;
  try {
    token = readFileSync(file, 'utf8').trim();
  } catch (e) {
    throw new InputError(`cannot read --token-file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (token === '') throw new InputError(`--token-file ${file} is empty`);
  return token;
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
