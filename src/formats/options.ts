import type { Labels, ProfileType } from '../model/index.js';
import type { DecodeBudget } from './decode-limits.js';

/** What every decoder accepts besides the payload. */
export interface DecodeOptions {
  /**
   * Pyroscope's `name` query parameter without its label part, e.g. `checkout.cpu`. Only its suffix after
   * the last dot is read here (it names the profile type); the service name is the caller's business.
   */
  readonly name?: string;
  /** Series labels to merge into every decoded profile; they win over labels found in the payload. */
  readonly labels?: Labels;
  /** Start of the window (Unix ms) when the payload carries none. */
  readonly timeMs?: number;
  /** Cap on the decompressed size of a gzipped payload (default DEFAULT_MAX_DECOMPRESSED). */
  readonly maxDecompressed?: number;
  /** Decode-time limits of the request this payload belongs to (servers); none for the CLI. */
  readonly budget?: DecodeBudget;
}

/** Options for text formats that carry no type of their own (folded, lines, perf script). */
export interface TypedDecodeOptions extends DecodeOptions {
  readonly type: ProfileType;
}

/** Options of a decoder whose payload may or may not name its type: a given `type` wins or fills in. */
export interface DecodeWithType extends DecodeOptions {
  readonly type?: ProfileType;
}
