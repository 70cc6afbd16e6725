#!/usr/bin/env node
import { Command } from 'commander';
import { useExitCodes } from './exit-codes.js';
import { ingestCommand } from './ingest.js';
import { labelsCommand, typesCommand } from './labels.js';
import { exportCommand, queryCommand } from './query.js';

import { serverCommand } from './server.js';
import { migrateCommand } from './migrate.js';
import { agentCommand } from './agent.js';
import { reportCommand } from './report.js';
import { compareCommand } from './compare.js';
import { summarizeCommand } from './summarize.js';
import { tokenCommand } from './token.js';

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
program.addCommand(migrateCommand());
program.addCommand(reportCommand());
program.addCommand(compareCommand());
program.addCommand(summarizeCommand());
program.addCommand(tokenCommand());

useExitCodes(program);

await program.parseAsync(process.argv);
