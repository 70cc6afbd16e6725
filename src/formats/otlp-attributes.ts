import type { AnyValue } from '../gen/opentelemetry/proto/common/v1/common_pb.js';
import { SERVICE_NAME, sanitizeLabelName } from '../model/labels.js';

/**
 * How OTLP attributes become Kiln labels (and back).
 *
 * Names: every character outside [a-zA-Z0-9_] becomes `_`, and a leading digit gets a `_` prefix —
 * the translation Prometheus applies to OTLP attribute names. So `service.name` → `service_name`
 * (Kiln's primary label), `process.pid` → `process_pid`, `process.executable.name` →
 * `process_executable_name`, `k8s.pod.name` → `k8s_pod_name`, `thread.name` → `thread_name`.
 *
 * Values: strings as they are; ints, doubles and booleans in their decimal / `true` form (Pyroscope
 * keeps only string values, which would lose `process.pid` and `thread.id` — the attributes that tell
 * processes and threads apart). Arrays, maps and bytes have no label spelling and are skipped.
 *
 * Precedence (later wins): resource, scope, profile, sample attributes — the most specific level
 * describes the samples best (a sample's `service.name` overrides its resource's, as in Pyroscope).
 *
 * `service_name` when no level sets `service.name`: `unknown_service:<process.executable.name>`, or
 * `unknown_service` — the OpenTelemetry SDK default, which Pyroscope also uses for OTLP.
 */

/** Attribute key of the primary label. */
export const SERVICE_NAME_KEY = 'service.name';
/** Mapping attribute holding the GNU build id (hex), as the OpenTelemetry eBPF profiler writes it. */
export const GNU_BUILD_ID_ATTRIBUTE = 'process.executable.build_id.gnu';
const EXECUTABLE_NAME_KEY = 'process.executable.name';
const UNKNOWN_SERVICE = 'unknown_service';

/**
 * Attributes that never become labels: they vary per event rather than naming what ran, so as labels
 * they would only multiply series (one per CPU), or they are unbounded text.
 */
export const NON_LABEL_ATTRIBUTES: ReadonlySet<string> = new Set([
  'cpu.logical_number',
  'process.command_line',
  'process.command_args',
  'process.command',
]);

/** The label name of an attribute key (the translation described above). */
export const labelNameOf = sanitizeLabelName;

/** The label value spelling of an attribute value, or undefined when it has none. */
export function labelValueOf(value: AnyValue | undefined): string | undefined {
  switch (value?.value.case) {
    case 'stringValue':
      return value.value.value;
    case 'intValue':
      return value.value.value.toString();
    case 'boolValue':
      return value.value.value ? 'true' : 'false';
    case 'doubleValue':
      return String(value.value.value);
    default:
      return undefined;
  }
}

/** Adds one attribute to a label map being assembled (later calls win). */
export function putAttribute(into: Map<string, string>, key: string, value: AnyValue | undefined): void {
  // A keyless attribute (or the null entry of the attribute table) names nothing.
  if (key === '' || NON_LABEL_ATTRIBUTES.has(key)) return;
  const v = labelValueOf(value);
  if (v === undefined || v === '') return;
  into.set(labelNameOf(key), v);
}

/** Sets `service_name` from the fallback rule when no attribute gave it. */
export function ensureServiceName(labels: Map<string, string>): void {
  if (labels.has(SERVICE_NAME)) return;
  const exe = labels.get(labelNameOf(EXECUTABLE_NAME_KEY));
  labels.set(SERVICE_NAME, exe ? `${UNKNOWN_SERVICE}:${exe}` : UNKNOWN_SERVICE);
}

/** The attribute key a label is exported under: `service_name` goes back to `service.name`. */
export function attributeKeyOf(labelName: string): string {
  return labelName === SERVICE_NAME ? SERVICE_NAME_KEY : labelName;
}
