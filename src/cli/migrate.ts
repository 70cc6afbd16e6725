import { Command } from 'commander';
import { action, out } from './common.js';

interface MigrateFlags {
  store: string;
  clickhouseCluster?: string;
}

/**
 * `kiln migrate`: creates or updates the store's schema and says what it did. Idempotent: a second
 * run creates nothing. Servers migrate at start too; this verb is for doing it ahead of a rollout
 * (and, on a cluster, for running the ON CLUSTER DDL once instead of from every starting server).
 */
export function migrateCommand(): Command {
  return new Command('migrate')
    .description('Create or update the store schema (idempotent) and say what was done.')
    .requiredOption('--store <url>', 'clickhouse://user:password@host:8123/database, or a data directory (DuckDB)')
    .option('--clickhouse-cluster <name>', 'create Replicated tables ON CLUSTER plus Distributed tables over this remote_servers cluster')
    .addHelpText(
      'after',
      '\nExamples:\n  kiln migrate --store clickhouse://default:@localhost:8123/kiln\n' +
        '  kiln migrate --store clickhouse://kiln:secret@ch-1:8123/kiln --clickhouse-cluster profiles',
    )
    .action(action(async (flags: MigrateFlags) => {
      // The engines load when the verb runs, not with the CLI (every other verb would pay for them).
      const [{ openStore }, { ClickHouseEngine }] = await Promise.all([import('../store/index.js'), import('../store/clickhouse/clickhouse-engine.js')]);
      if (!/^clickhouses?:\/\//i.test(flags.store)) {
        const store = await openStore(flags.store);
        await store.close();
        await out(`DuckDB store at ${flags.store}: schema up to date (created at open when missing)`);
        return;
      }
      const { report, version, address } = await ClickHouseEngine.migrate(flags.store, { cluster: flags.clickhouseCluster });
      const where = flags.clickhouseCluster ? `cluster ${flags.clickhouseCluster} via ${address}` : address;
      const lines = [`ClickHouse ${version} at ${where}:`];
      if (report.created.length > 0) lines.push(`  created ${report.created.length}: ${report.created.join(', ')}`);
      if (report.present.length > 0) lines.push(`  already present ${report.present.length}: ${report.present.join(', ')}`);
      if (report.ttl.length > 0) lines.push(`  TTL set on: ${report.ttl.join(', ')}`);
      for (const note of report.notes) lines.push(`  note: ${note}`);
      if (report.created.length === 0) lines.push('  schema up to date: nothing to create');
      await out(lines.join('\n'));
    }));
}
