/**
 * The UI's credential for a server with `auth:` (docs/SECURITY.md). The token is kept in this tab's
 * sessionStorage: it survives a reload but not closing the tab, and no other site can read it. Every
 * request to the server goes through authFetch, which adds it; a 401 tells the sign-in box to ask.
 */
const KEY = 'kiln.token';
/** Fired on window when the server answered 401: the sign-in box opens. */
export const AUTH_REQUIRED = 'kiln-auth-required';

export function storedToken(): string | null {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function signIn(token: string): void {
  sessionStorage.setItem(KEY, token.trim());
}

export function signOut(): void {
  sessionStorage.removeItem(KEY);
}

/** fetch with the stored token as a bearer credential. */
export async function authFetch(input: string, init: RequestInit = {}): Promise<Response> {
  const token = storedToken();
  const headers = new Headers(init.headers);
  if (token) headers.set('authorization', `Bearer ${token}`);
  const res = await fetch(input, { ...init, headers });
  if (res.status === 401) window.dispatchEvent(new Event(AUTH_REQUIRED));
  return res;
}

/** Who the server says we are (GET /api/v1/whoami). */
export type WhoAmI =
  | { readonly state: 'open' }
  | { readonly state: 'signed-out'; readonly message: string }
  | { readonly state: 'signed-in'; readonly principal: string; readonly role: string; readonly tenant: string; readonly scope: string };

export async function whoami(token: string | null = storedToken()): Promise<WhoAmI> {
  const res = await fetch('/api/v1/whoami', { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const body = (await res.json().catch(() => ({}))) as { auth?: boolean; principal?: string; role?: string; tenant?: string; scope?: string; error?: string };
  if (res.status === 401 || res.status === 403) return { state: 'signed-out', message: body.error ?? `HTTP ${res.status}` };
  if (!res.ok) throw new Error(body.error ?? `HTTP ${res.status}`);
  if (!body.auth || body.principal === undefined) return { state: 'open' };
  return { state: 'signed-in', principal: body.principal, role: body.role ?? '', tenant: body.tenant ?? '', scope: body.scope ?? '' };
}
