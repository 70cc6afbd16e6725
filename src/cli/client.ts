import { InputError } from '../model/index.js';

/**
 * The CLI is a client of a running `kiln server` (the embedded store belongs to the server process),
 * so every verb but `server` and `agent` talks HTTP. Errors the server reports as 4xx become InputError
 * (exit 2: the user must change something); an unreachable server is a plain Error (exit 1).
 */
export interface ClientOptions {
  readonly url: string;
  readonly tenant?: string;
  /** Bearer token for a server with `auth:` (from --token-file). */
  readonly token?: string;
}

export class KilnClient {
  private readonly base: string;
  constructor(private readonly opts: ClientOptions) {
    this.base = opts.url.replace(/\/+$/, '');
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    const h: Record<string, string> = { ...extra };
    if (this.opts.tenant) h['X-Scope-OrgID'] = this.opts.tenant;
    if (this.opts.token) h['Authorization'] = `Bearer ${this.opts.token}`;
    return h;
  }

  async request(path: string, init: RequestInit = {}): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(this.base + path, { ...init, headers: this.headers(init.headers as Record<string, string>) });
    } catch (e) {
      throw new Error(`cannot reach kiln server at ${this.base} (${(e as Error).message}) — start it with \`kiln server\` or pass --url`);
    }
    if (res.ok) return res;
    const text = await res.text();
    let message = text;
    try {
      const body = JSON.parse(text) as { error?: string; message?: string };
      message = body.error ?? body.message ?? text;
    } catch {
      /* plain-text error body */
    }
    if (res.status >= 400 && res.status < 500) throw new InputError(`server rejected the request (${res.status}): ${message}`);
    throw new Error(`server error ${res.status}: ${message}`);
  }

  async getJson<T>(path: string, params: Record<string, string | number | undefined>): Promise<T> {
    const res = await this.request(`${path}?${query(params)}`);
    return (await res.json()) as T;
  }

  async getBytes(path: string, params: Record<string, string | number | undefined>): Promise<Uint8Array> {
    const res = await this.request(`${path}?${query(params)}`);
    return new Uint8Array(await res.arrayBuffer());
  }

  /** A querier.v1 call over Connect JSON — the same API Grafana uses. */
  async connect<T>(method: string, body: unknown): Promise<T> {
    const res = await this.request(`/querier.v1.QuerierService/${method}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    return (await res.json()) as T;
  }
}

function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  return q.toString();
}
