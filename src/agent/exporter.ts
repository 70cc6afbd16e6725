import type { Profile } from '../model/index.js';
import type { IntervalWindow } from './exporter-profiles.js';
import { postBytes } from './exporter-post.js';
import { RowsEncoder, rowsRequestBody } from './exporter-rows.js';
import { RetryQueue, type QueueOptions, type SendOutcome } from './exporter-queue.js';
import { encodeInterval, type OtlpEncoder, type Protocol, type WireRequest } from './exporter-wire.js';

/**
 * Sends each interval's profiles to the server: encode for the chosen protocol, queue, POST with the
 * bearer token / tenant, retry with backoff while the server is down, drop oldest when full.
 */

export interface ExporterOptions {
  /** Base URL of the Kiln (or Pyroscope / OTLP-profiles) server, e.g. http://localhost:4040. */
  readonly server: string;
  readonly protocol: Protocol;
  readonly frequencyHz: number;
  readonly bearerToken?: string;
  /** Sent as X-Scope-OrgID when set. */
  readonly tenant?: string;
  readonly queue: QueueOptions;
  /** Per-request timeout. */
  readonly timeoutMs: number;
  readonly otlpEncoder: OtlpEncoder;
}

export interface ExporterEvents {
  sent?(req: WireRequest, ms: number): void;
  failed?(req: WireRequest, error: string, willRetry: boolean): void;
  dropped?(req: WireRequest): void;
  /**
   * CPU (user + sys, seconds) of one delivery attempt of a byte body — writing the request and taking
   * the answer, not what else ran while it was awaited: the agent's `send` stage.
   */
  sendCpu?(seconds: number): void;
}

export class Exporter {
  private readonly queue: RetryQueue<WireRequest>;
  private readonly base: URL;
  private readonly rows = new RowsEncoder();
  private readonly events: ExporterEvents;
  /** The protocol in use: the one asked for, or OTLP once a server has said it has no rows endpoint. */
  private protocol: Protocol;

  constructor(
    private readonly opts: ExporterOptions,
    events: ExporterEvents = {},
  ) {
    this.base = new URL(opts.server);
    this.protocol = opts.protocol;
    this.queue = new RetryQueue((r) => this.send(r), opts.queue, events);
    this.events = events;
  }

  get queued(): number {
    return this.queue.length;
  }

  get queuedBytes(): number {
    return this.queue.bytes;
  }

  submit(profiles: readonly Profile[], window: IntervalWindow): void {
    if (this.protocol === 'kiln') {
      if (profiles.length > 0) this.queue.push(this.rowsRequest(profiles, window, false));
      return;
    }
    for (const req of encodeInterval(this.protocol, profiles, window, this.opts.frequencyHz, this.opts.otlpEncoder)) {
      this.queue.push(req);
    }
  }

  /** Waits up to `timeoutMs` for everything queued to be delivered; false if some is still waiting. */
  flush(timeoutMs: number): Promise<boolean> {
    return this.queue.drain(timeoutMs);
  }

  close(): void {
    this.queue.close();
  }

  /**
   * A rows push of `profiles`: symbols for the stacks the server has not confirmed, or for all of them
   * (`everySymbol`: the answer to a 409). A server without the rows endpoint (404: Pyroscope, an OTel
   * Collector, an older Kiln) gets this interval and the following ones as OTLP.
   */
  private rowsRequest(profiles: readonly Profile[], window: IntervalWindow, everySymbol: boolean): WireRequest {
    const { body, stackIds } = everySymbol ? this.rows.encode(profiles, 'all') : this.rows.encode(profiles);
    const http = rowsRequestBody(body);
    return {
      ...http,
      bytes: http.body.byteLength,
      profiles: profiles.length,
      accepted: () => this.rows.confirm(stackIds),
      conflict: everySymbol
        ? undefined
        : () => {
            this.rows.forget(this.rows.stackIdsOf(profiles));
            return this.rowsRequest(profiles, window, true);
          },
      unsupported: () => {
        if (this.protocol === 'kiln') console.error(`kiln agent: ${this.opts.server} has no Kiln rows endpoint (HTTP 404): pushing OTLP from now on`);
        this.protocol = 'otlp';
        return encodeInterval('otlp', profiles, window, this.opts.frequencyHz, this.opts.otlpEncoder)[0]!;
      },
    };
  }

  private async send(req: WireRequest): Promise<SendOutcome> {
    const headers: Record<string, string> = { ...req.headers, 'user-agent': 'kiln-agent' };
    if (this.opts.bearerToken) headers.authorization = `Bearer ${this.opts.bearerToken}`;
    if (this.opts.tenant) headers['x-scope-orgid'] = this.opts.tenant;
    let status: number;
    let text: string;
    try {
      const url = new URL(req.path, this.base);
      // Tested as bytes first: even naming the global FormData makes node load fetch's implementation.
      if (req.body instanceof Uint8Array) {
        const res = await postBytes(url, headers, req.body, this.opts.timeoutMs);
        ({ status, text } = res);
        this.events.sendCpu?.(res.cpuSeconds);
      } else {
        const res = await fetch(url, { method: 'POST', headers, body: req.body, signal: AbortSignal.timeout(this.opts.timeoutMs) });
        status = res.status;
        text = res.ok ? '' : (await res.text().catch(() => '')).slice(0, 300);
        await res.body?.cancel().catch(() => undefined);
      }
    } catch (e) {
      const err = e as Error & { code?: string; cause?: { code?: string } };
      const code = err.cause?.code ?? err.code;
      return { ok: false, retry: true, error: code && !err.message.includes(code) ? `${err.message} (${code})` : err.message };
    }
    if (status >= 200 && status < 300) {
      req.accepted?.();
      return { ok: true };
    }
    if (status === 409 && req.conflict) return this.send(req.conflict());
    if (status === 404 && req.unsupported) return this.send(req.unsupported());
    // 4xx means this request will never be accepted (bad token, bad payload): drop it, keep going.
    // Overload (429, 408) and server errors are worth retrying.
    const retry = status >= 500 || status === 429 || status === 408;
    return { ok: false, retry, error: `HTTP ${status}${text ? `: ${text}` : ''}` };
  }
}
