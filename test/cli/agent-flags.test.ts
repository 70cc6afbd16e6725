import { describe, expect, it } from 'vitest';
import { parseAgentArgs } from '../../src/cli/agent-flags.js';
import { agentCommand } from '../../src/cli/agent.js';

/** What commander gives the agent's action for these arguments (the full CLI's path). */
function commanderOptions(args: string[], env: Record<string, string>): Record<string, unknown> {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    const cmd = agentCommand().exitOverride().action(() => undefined);
    cmd.parse(args, { from: 'user' });
    return { ...cmd.opts() };
  } finally {
    for (const k of Object.keys(env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  }
}

describe('kiln agent flags without commander (the agent-only entry)', () => {
  const valid: Array<[string[], Record<string, string>]> = [
    [[], {}],
    [['--server', 'http://kiln:4040', '--frequency', '49', '--interval=15s'], {}],
    [['--off-cpu', '--off-cpu-min', '2ms', '--adaptive', '--adaptive-budget', '300'], {}],
    [['--no-unwind-tables', '--no-jvm-perf-map', '--no-v8-frames', '--protocol', 'otlp'], {}],
    [['--token-file', 'tok', '--tenant', 't1', '--metrics-port', '-1', '--server', '--odd'], {}],
    [['--protocol', 'pyroscope', '--protocol', 'kiln'], {}],
    [[], { KILN_SERVER: 'http://from-env:4040', NODE_NAME: 'node-7' }],
    [['--server', 'http://flag:4040'], { KILN_SERVER: 'http://from-env:4040' }],
  ];
  it.each(valid)('parses %j as commander does', (args, env) => {
    const fast = parseAgentArgs(args, { ...env });
    expect(fast, 'a valid command line is parsed without commander').toBeDefined();
    expect(fast).toEqual(commanderOptions(args, env));
  });

  it.each([[['--help']], [['-h']], [['--no-such-flag']], [['--protocol', 'nope']], [['--frequency']], [['stray']], [['--off-cpu=yes']]])(
    'leaves %j to commander (help, usage errors)',
    (args) => {
      expect(parseAgentArgs(args, {})).toBeUndefined();
    },
  );
});
