import type { Command } from 'commander';

/**
 * Exit codes scripts can trust: 2 when the user must change something, 1 for everything else, and 3
 * when `kiln compare` ran fine and a regression gate broke (CI tells a regression from a broken job).
 */
export const EXIT = { ok: 0, failure: 1, badInput: 2, gateBroken: 3 } as const;

/**
 * Usage errors (unknown flag, missing argument) exit 2 on a command and every subcommand under it;
 * --help and --version exit 0. Kept apart from common.ts so the agent-only entry stays light.
 */
export function useExitCodes(cmd: Command): void {
  cmd.showHelpAfterError('(run with --help for usage)').exitOverride((err) => {
    const clean = err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help';
    process.exit(clean ? EXIT.ok : EXIT.badInput);
  });
  for (const sub of cmd.commands) useExitCodes(sub);
}
