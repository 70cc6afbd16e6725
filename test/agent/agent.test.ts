import { describe, expect, it } from 'vitest';
import { startAgent } from '../../src/agent/agent.js';
import { parseConfigYaml, resolveConfig } from '../../src/agent/config.js';
import { InputError } from '../../src/model/index.js';

describe('startAgent', () => {
  it('refuses a bad relabel rule up front, before touching the kernel', async () => {
    const config = resolveConfig(parseConfigYaml('relabel_configs:\n  - action: explode\n    source_labels: [comm]\n'), { metricsPort: '-1' });
    const started = startAgent(config, { log: () => undefined });
    await expect(started).rejects.toBeInstanceOf(InputError);
    await expect(started).rejects.toThrow(/explode/);
  });

  it('says what is missing when the bearer token file cannot be read', async () => {
    const config = resolveConfig({}, { metricsPort: '-1', bearerTokenFile: '/nonexistent/kiln-token' });
    await expect(startAgent(config, { log: () => undefined })).rejects.toThrow(/cannot read --bearer-token-file/);
  });
});
