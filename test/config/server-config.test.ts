import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadServerConfig, parseServerConfig, watchServerConfig } from '../../src/config/server-config.js';
import { redactUrl } from '../../src/cli/server.js';
import { InputError } from '../../src/model/index.js';

const dir = mkdtempSync(path.join(tmpdir(), 'kiln-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('server config file', () => {
  it('reads the store section, and an empty file is no settings', () => {
    const cfg = parseServerConfig('store: { url: "clickhouse://default:@ch:8123/kiln", retention: 90d, clickhouse_cluster: kiln }\n');
    expect(cfg.store).toEqual({ url: 'clickhouse://default:@ch:8123/kiln', dataDir: undefined, retention: '90d', clickhouseCluster: 'kiln' });
    expect(parseServerConfig('')).toEqual({ unknownSections: [] });
    expect(parseServerConfig('store:\n  retention: 0\n').store?.retention).toBe('0');
  });

  it('names the file and the key of every mistake', () => {
    const bad = (text: string, message: RegExp) => {
      const err = (() => {
        try {
          parseServerConfig(text, 'kiln.yaml');
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(InputError);
      expect((err as Error).message).toMatch(message);
    };
    bad('store: [1, 2]', /kiln\.yaml: store must be a mapping/);
    bad('store: { ulr: x }', /store\.ulr is not a store setting/);
    bad('store: { url: 5 }', /store\.url must be a non-empty string/);
    bad('store: { url: a, data_dir: b }', /not both/);
    bad('store: {', /not valid YAML/);
    bad('- a\n- b', /the file must be a mapping/);
  });

  it('lists sections it does not know (a typo), not the sections it reads', () => {
    expect(parseServerConfig('store: {}\nstroe: {}\n').unknownSections).toEqual(['stroe']);
  });

  it('reloads on SIGHUP and keeps the old config when the new file is broken', async () => {
    const file = path.join(dir, 'kiln.yaml');
    writeFileSync(file, 'store: { retention: 7d }\n');
    expect(loadServerConfig(file).store?.retention).toBe('7d');
    const seen: string[] = [];
    const errors: string[] = [];
    const stop = watchServerConfig(file, (c) => seen.push(c.store?.retention ?? ''), (m) => errors.push(m));
    try {
      writeFileSync(file, 'store: { retention: 14d }\n');
      process.kill(process.pid, 'SIGHUP');
      await new Promise((r) => setTimeout(r, 100));
      expect(seen).toContain('14d');
      writeFileSync(file, 'store: { retention: [oops] }\n');
      process.kill(process.pid, 'SIGHUP');
      await new Promise((r) => setTimeout(r, 100));
      expect(errors.at(-1)).toMatch(/not reloaded, keeping the previous one: .*store\.retention/);
    } finally {
      stop();
    }
    expect(() => loadServerConfig(path.join(dir, 'missing.yaml'))).toThrow(/cannot read config .*ENOENT/);
  });

  it('never logs a store password', () => {
    expect(redactUrl('clickhouse://kiln:s3cret@ch:8123/kiln')).toBe('clickhouse://kiln:***@ch:8123/kiln');
    expect(redactUrl('./data')).toBe('./data');
  });
});
