import { Code, ConnectError } from '@connectrpc/connect';
import type { ConnectRouter, HandlerContext } from '@connectrpc/connect';
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { RecordingRule } from '../insight/config.js';
import { InputError } from '../model/errors.js';
import { formatMatchers } from '../query/selector.js';
import { MetricType, RecordingRulesService } from '../gen/settings/v1/recording_rules_pb.js';
import type { RecordingRuleSchema } from '../gen/settings/v1/recording_rules_pb.js';
import { SettingsService } from '../gen/settings/v1/setting_pb.js';
import { tenantOf } from './tenant.js';

interface StoredSetting {
  readonly name: string;
  readonly value: string;
  readonly modifiedAt: bigint;
}

/** Settings one tenant may keep: Drilldown stores a handful of small JSON documents. */
const MAX_SETTINGS = 256;
const MAX_VALUE_CHARS = 64 * 1024;

/**
 * Per-tenant named settings, the way Pyroscope keeps them: a write older (modifiedAt, Unix ms) than the
 * stored one loses with AlreadyExists, so two browser tabs cannot undo each other's newer change.
 * Kept in memory, as Pyroscope does when it has no object storage: they are UI preferences (Drilldown
 * writes its defaults back on first use), not data, and are lost on restart.
 */
export class SettingsStore {
  private readonly byTenant = new Map<string, Map<string, StoredSetting>>();

  list(tenant: string): StoredSetting[] {
    return [...(this.byTenant.get(tenant)?.values() ?? [])].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  set(tenant: string, s: StoredSetting): StoredSetting {
    let settings = this.byTenant.get(tenant);
    if (!settings) this.byTenant.set(tenant, (settings = new Map()));
    const old = settings.get(s.name);
    if (old && old.modifiedAt > s.modifiedAt) {
      throw new ConnectError(`failed to update ${s.name}: newer update already written`, Code.AlreadyExists);
    }
    if (!old && settings.size >= MAX_SETTINGS) throw new InputError(`a tenant keeps at most ${MAX_SETTINGS} settings`);
    settings.set(s.name, s);
    return s;
  }

  delete(tenant: string, name: string, modifiedAt: bigint): void {
    const settings = this.byTenant.get(tenant);
    const old = settings?.get(name);
    if (old && old.modifiedAt > modifiedAt) {
      throw new ConnectError(`failed to delete ${name}: newer update already written`, Code.AlreadyExists);
    }
    settings?.delete(name);
  }
}

/**
 * `settings.v1.SettingsService` (Profiles Drilldown reads its plugin settings here on every flame-graph
 * view and saves them) and `settings.v1.RecordingRulesService`, which lists the recording rules of the
 * server config's `rules:` for the caller's tenant, marked provisioned (Drilldown then shows them
 * read-only): they live in the config file and are not managed over this API.
 */
export function settingsRoutes(
  router: ConnectRouter,
  rules: () => readonly RecordingRule[] = () => [],
  store: SettingsStore = new SettingsStore(),
): void {
  const tenant = (hc: HandlerContext) => tenantOf(hc.requestHeader);
  router.service(SettingsService, {
    get: (_req, hc) => ({ settings: store.list(tenant(hc)) }),
    set: (req, hc) => {
      const s = req.setting;
      if (!s) throw new InputError('no setting values provided');
      if (s.name === '') throw new InputError('setting name is required');
      if (s.value.length > MAX_VALUE_CHARS) throw new InputError(`setting value is longer than ${MAX_VALUE_CHARS} characters`);
      // Like Pyroscope: a write without a time is stamped now.
      const modifiedAt = s.modifiedAt > 0n ? s.modifiedAt : BigInt(Date.now());
      return { setting: store.set(tenant(hc), { name: s.name, value: s.value, modifiedAt }) };
    },
    delete: (req, hc) => {
      if (req.name === '') throw new InputError('no setting name provided');
      store.delete(tenant(hc), req.name, BigInt(Date.now()));
      return {};
    },
  });
  const configured = 'recording rules are set in Kiln\'s config file (rules:), not over this API';
  router.service(RecordingRulesService, {
    listRecordingRules: (_req, hc) => ({ rules: rulesOf(rules(), tenant(hc)).map(ruleMessage) }),
    getRecordingRule: (req, hc) => {
      const rule = rulesOf(rules(), tenant(hc)).find((r) => r.record === req.id);
      if (!rule) throw new ConnectError(`recording rule "${req.id}" not found`, Code.NotFound);
      return { rule: ruleMessage(rule) };
    },
    upsertRecordingRule: () => {
      throw new ConnectError(configured, Code.Unimplemented);
    },
    deleteRecordingRule: () => {
      throw new ConnectError(configured, Code.Unimplemented);
    },
  });
}

const rulesOf = (rules: readonly RecordingRule[], tenant: string) => rules.filter((r) => r.tenant === tenant);

/**
 * A config rule as Pyroscope describes one: its record name is its id, the selector's matchers its
 * matchers, its static labels the external labels. Pyroscope's function filter names one function and
 * counts it anywhere on the stack; Kiln's is an anchored RE2 pattern, given as written.
 */
function ruleMessage(r: RecordingRule): MessageInitShape<typeof RecordingRuleSchema> {
  return {
    id: r.record,
    metricName: r.record,
    profileType: r.selector.profileType,
    matchers: [formatMatchers(r.selector.matchers)],
    groupBy: [...r.groupBy],
    externalLabels: r.labels.map((l) => ({ name: l.name, value: l.value })),
    generation: 1n,
    provisioned: true,
    ...(r.functionPattern !== undefined ? { stacktraceFilter: { functionName: { functionName: r.functionPattern, metricType: MetricType.TOTAL } } } : {}),
  };
}
