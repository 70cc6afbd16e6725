import { InputError } from '../model/errors.js';
import type { Id } from '../model/ids.js';

/**
 * A stored profile's id as the querier API writes it: its 64-bit content id as 16 lowercase hex
 * digits. Pyroscope's ids are UUIDs; clients treat them as opaque strings they send back, so Kiln's
 * own spelling round-trips through `profile_id_selector` the same way.
 */
export function profileIdText(id: Id): string {
  return id.toString(16).padStart(16, '0');
}

/** `field` names where the id came from, for the message (e.g. `profile_id_selector`). */
export function parseProfileIdText(text: string, field = 'profile id'): Id {
  if (!/^[0-9a-fA-F]{16}$/.test(text)) {
    throw new InputError(`${field}: ${JSON.stringify(text.slice(0, 80))} is not a profile id Kiln gave out (16 hex digits, as in exemplars and heatmaps)`);
  }
  return BigInt(`0x${text}`);
}
