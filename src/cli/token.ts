import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { InputError } from '../model/index.js';
import { ROLES } from '../server/auth-config.js';
import type { Role } from '../server/auth-config.js';
import { authSection } from '../server/auth-config.js';
import { sha256 } from '../server/auth.js';
import { action, out } from './common.js';

/** Tokens carry a prefix so a secret scanner (and a person) can tell a leaked Kiln token at a glance. */
export const TOKEN_PREFIX = 'kiln_';

interface CreateFlags {
  name: string;
  tenant: string[];
  role: string;
  scope?: string;
  out?: string;
}

/** 32 random bytes (256 bits), URL-safe: no guessing, no brute force, and it fits any header. */
export function newToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

/** The kiln.yaml entry for a token: its hash only, so the config file holds no secret. */
export function configEntry(name: string, token: string, tenants: readonly string[], role: Role, scope?: string): string {
  const lines = [
    `    - name: ${JSON.stringify(name)}`,
    `      sha256: "${sha256(token).toString('hex')}"`,
    `      tenants: [${tenants.map((t) => JSON.stringify(t)).join(', ')}]`,
    `      role: ${role}`,
  ];
  // Single-quoted YAML keeps a selector's double quotes as they are; a quote inside doubles.
  if (scope !== undefined) lines.push(`      scope: '${scope.replaceAll("'", "''")}'`);
  return lines.join('\n');
}

export function tokenCommand(): Command {
  const create = new Command('create')
    .description('Print a new random token and the kiln.yaml entry (auth.tokens) that grants it; the server keeps only its hash.')
    .requiredOption('--name <name>', 'name shown in logs, /metrics and the UI (e.g. shop-team)')
    .addOption(new Option('--tenant <id...>', 'tenant(s) the token may use; the first is its default').default(['anonymous']))
    .addOption(new Option('--role <role>', 'read (queries, UI, Grafana) | write (ingest: agents, SDKs) | admin').choices(ROLES).default('read'))
    .option('--scope <selector>', 'label matchers ANDed into every read, e.g. \'{namespace=~"shop-.*"}\'')
    .option('--out <file>', 'write the token to this file (mode 0600, for --token-file) instead of printing it')
    .action(
      action(async (f: CreateFlags) => {
        const token = newToken();
        const entry = configEntry(f.name, token, f.tenant, f.role as Role, f.scope);
        // The entry is checked as the server will check it, so a bad tenant or scope fails here, not at reload.
        authSection({ tokens: [{ name: f.name, sha256: sha256(token).toString('hex'), tenants: f.tenant, role: f.role, scope: f.scope }] }, '--flags');
        if (f.out !== undefined) {
          try {
            writeFileSync(f.out, `${token}\n`, { mode: 0o600, flag: 'wx' });
          } catch (e) {
            throw new InputError(`cannot write --out ${f.out}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} (an existing file is never overwritten)`);
          }
        }
        const shown = f.out === undefined ? `token: ${token}\n\nKeep it secret: it is shown only now, and the server stores only its hash.\n` : `token written to ${f.out}\n`;
        await out(`${shown}\nAdd to kiln.yaml (the server reloads it on change):\n\nauth:\n  tokens:\n${entry}\n`);
      }),
    );
  return new Command('token').description('Manage access tokens for a server with auth: in its config').addCommand(create);
}
