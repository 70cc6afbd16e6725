#!/usr/bin/env node
import { Command } from 'commander';
import { EXIT } from './common.js';
import { ingestCommand } from './ingest.js';
import { labelsCommand, typesCommand } from './labels.js';
import { exportCommand, queryCommand } from './query.js';

import { serverCommand } from './server.js';
import { agentCommand } from './agent.js';

const program = new Command('kiln')
  .description('Kiln — continuous profiling: eBPF agent, profile store, flame graphs.\n' +
    'Start a server with `kiln server`, profile this host with `sudo kiln agent`, open http://localhost:4040.')
  .version(process.env.npm_package_version ?? '0.1.0');

program.addCommand(serverCommand());
program.addCommand(agentCommand());
program.addCommand(ingestCommand());
program.addCommand(queryCommand());
program.addCommand(labelsCommand());
program.addCommand(typesCommand());
program.addCommand(exportCommand());

/** Usage errors (unknown flag, missing argument) exit 2 on every verb; --help and --version exit 0. */
function exitCodes(cmd: Command): void {
  cmd.showHelpAfterError('(run with --help for usage)').exitOverride((err) => {
    const clean = err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help';
    process.exit(clean ? EXIT.ok : EXIT.badInput);
  });
  for (const sub of cmd.commands) exitCodes(sub);
}
exitCodes(program);

await program.parseAsync(process.argv);
