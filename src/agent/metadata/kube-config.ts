import { existsSync, readFileSync } from 'node:fs';

/** How to reach the Kubernetes API server. */
export interface KubeConfig {
  /** Base URL, e.g. https://10.96.0.1:443 */
  readonly server: string;
  /** Returns the bearer token; re-read per request because projected tokens rotate (~hourly). */
  readonly token: () => string;
  /** PEM CA bundle that signed the API server certificate (https only). */
  readonly ca?: Buffer;
}

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * The in-cluster configuration every pod gets: KUBERNETES_SERVICE_HOST/PORT from the environment, the
 * service account token and CA mounted under SERVICE_ACCOUNT_DIR. Undefined when not in a cluster.
 */
export function inClusterConfig(env: NodeJS.ProcessEnv = process.env, dir = SERVICE_ACCOUNT_DIR): KubeConfig | undefined {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT ?? '443';
  const tokenFile = `${dir}/token`;
  if (!host || !existsSync(tokenFile)) return undefined;
  const caFile = `${dir}/ca.crt`;
  // IPv6 service hosts need brackets in a URL.
  const hostPart = host.includes(':') ? `[${host}]` : host;
  return {
    server: `https://${hostPart}:${port}`,
    token: () => readFileSync(tokenFile, 'utf8').trim(),
    ca: existsSync(caFile) ? readFileSync(caFile) : undefined,
  };
}
