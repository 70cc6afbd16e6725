import type { ConnectRouter } from '@connectrpc/connect';
import { FeatureFlagsService } from '../gen/capabilities/v1/feature_flags_pb.js';

/**
 * The flags Pyroscope publishes, with what Kiln does: Grafana turns features on by these names, so a
 * flag Kiln cannot honour is reported off rather than left out (absent and off read the same to
 * Grafana, and listing them says the question was understood). Sorted by name, as Pyroscope sends them.
 */
const FLAGS = [
  // Ruler in Pyroscope's sense: recording rules managed over settings.v1 — Kiln's come from its config.
  { name: 'pyroscopeRuler', enabled: false, description: 'Recording rules managed over the settings.v1 API (Kiln reads them from its config file)' },
  { name: 'pyroscopeRulerFunctions', enabled: false, description: 'Per-function recording rules over the settings.v1 API' },
  // Label names are Prometheus names (validated at ingest); UTF-8 names would be refused.
  { name: 'utf8LabelNames', enabled: false, description: 'UTF-8 label names in read and write APIs' },
  { name: 'v2StorageLayer', enabled: false, description: "Pyroscope's v2 storage layer" },
];

/** `capabilities.v1.FeatureFlagsService/GetFeatureFlags`, which Grafana asks before it offers a feature. */
export function capabilitiesRoutes(router: ConnectRouter): void {
  router.service(FeatureFlagsService, {
    getFeatureFlags: () => ({ featureFlags: FLAGS.map((f) => ({ ...f })) }),
  });
}
