import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ClusterRole, PolicyRule, RoleBinding } from './manifests.js';

/**
 * A stand-in Kubernetes API server that authorizes every request the way RBAC does, from the
 * ClusterRoles and ClusterRoleBindings of the manifests: the request becomes (verb, API group,
 * resource), and only a rule bound to the caller's service account lets it through; anything else
 * gets 403 Forbidden, as a real cluster answers. Pods are served from a fixed list, filtered by
 * `fieldSelector=spec.nodeName=…`; a watch stays open with no events until the server closes.
 */

export interface ServiceAccountRef {
  readonly namespace: string;
  readonly name: string;
}

export interface RequestAttributes {
  readonly verb: string;
  readonly apiGroup: string;
  readonly resource: string;
  /** '' for a request across all namespaces. */
  readonly namespace: string;
  /** '' for a collection. */
  readonly name: string;
}

export interface AuthorizedRequest {
  readonly url: URL;
  readonly attributes: RequestAttributes | undefined;
  readonly allowed: boolean;
}

/** What a GET on an API path asks for, in RBAC terms; undefined for non-resource paths. */
export function requestAttributes(url: URL): RequestAttributes | undefined {
  // /api/v1/… (core group "") or /apis/<group>/<version>/…
  const parts = url.pathname.split('/').filter(Boolean);
  let rest: string[];
  let apiGroup: string;
  if (parts[0] === 'api' && parts.length >= 3) {
    apiGroup = '';
    rest = parts.slice(2);
  } else if (parts[0] === 'apis' && parts.length >= 4) {
    apiGroup = parts[1]!;
    rest = parts.slice(3);
  } else {
    return undefined;
  }
  let namespace = '';
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1]!;
    rest = rest.slice(2);
  }
  const resource = rest.length > 2 ? `${rest[0]}/${rest[2]}` : rest[0]!;
  const name = rest[1] ?? '';
  const watch = url.searchParams.get('watch');
  const verb = watch === '1' || watch === 'true' ? 'watch' : name ? 'get' : 'list';
  return { verb, apiGroup, resource, namespace, name };
}

function ruleAllows(rule: PolicyRule, a: RequestAttributes): boolean {
  const has = (list: readonly string[] | undefined, v: string) => (list ?? []).includes('*') || (list ?? []).includes(v);
  if (!has(rule.verbs, a.verb) || !has(rule.apiGroups, a.apiGroup) || !has(rule.resources, a.resource)) return false;
  return !rule.resourceNames?.length || (a.name !== '' && rule.resourceNames.includes(a.name));
}

/** The rules of every ClusterRole bound by a ClusterRoleBinding to this service account. */
export function rulesFor(sa: ServiceAccountRef, roles: readonly ClusterRole[], bindings: readonly RoleBinding[]): PolicyRule[] {
  const out: PolicyRule[] = [];
  for (const b of bindings) {
    const bound = b.subjects.some((s) => s.kind === 'ServiceAccount' && s.name === sa.name && s.namespace === sa.namespace);
    if (!bound || b.roleRef.kind !== 'ClusterRole' || b.roleRef.apiGroup !== 'rbac.authorization.k8s.io') continue;
    const role = roles.find((r) => r.metadata.name === b.roleRef.name);
    if (role) out.push(...role.rules);
  }
  return out;
}

export function isAllowed(rules: readonly PolicyRule[], a: RequestAttributes | undefined): boolean {
  return a !== undefined && rules.some((r) => ruleAllows(r, a));
}

export interface RbacApiServer {
  readonly url: string;
  readonly requests: AuthorizedRequest[];
  close(): Promise<void>;
}

export async function startRbacApiServer(opts: {
  /** The bearer token that identifies the service account. */
  readonly token: string;
  readonly rules: readonly PolicyRule[];
  readonly pods: readonly unknown[];
}): Promise<RbacApiServer> {
  const requests: AuthorizedRequest[] = [];
  const open = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const attributes = requestAttributes(url);
    const authenticated = req.headers.authorization === `Bearer ${opts.token}`;
    const allowed = authenticated && req.method === 'GET' && isAllowed(opts.rules, attributes);
    requests.push({ url, attributes, allowed });
    if (!authenticated) return status(res, 401, 'Unauthorized');
    if (!allowed) {
      const a = attributes;
      return status(res, 403, a ? `cannot ${a.verb} resource "${a.resource}" in API group "${a.apiGroup}"` : `forbidden: ${url.pathname}`);
    }
    if (attributes!.resource !== 'pods' || attributes!.name) return status(res, 404, 'not found');
    const selector = url.searchParams.get('fieldSelector') ?? '';
    const node = /^spec\.nodeName=(.*)$/.exec(selector)?.[1];
    const items = opts.pods.filter((p) => node === undefined || (p as { spec?: { nodeName?: string } }).spec?.nodeName === node);
    res.writeHead(200, { 'content-type': 'application/json' });
    if (attributes!.verb === 'list') return res.end(JSON.stringify({ kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '100' }, items }));
    // A live watch with nothing happening: headers out, body held open.
    res.flushHeaders();
    open.add(res);
    res.on('close', () => open.delete(res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: async () => {
      for (const res of open) res.end();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function status(res: http.ServerResponse, code: number, message: string): void {
  res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code, message }));
}
