import { compileRelabelConfigs } from '../../model/relabel.js';
import type { ProcessLabeler } from '../types.js';
import { inClusterConfig, type KubeConfig } from './kube-config.js';
import { MetadataLabeler } from './labeler.js';
import { PodWatcher } from './pod-watcher.js';

export { MetadataLabeler } from './labeler.js';
export { PodWatcher } from './pod-watcher.js';
export { PodIndex } from './pod-index.js';
export { inClusterConfig } from './kube-config.js';

export interface MetadataOptions {
  readonly nodeName: string;
  /** `relabel_configs` as parsed from the YAML config (validated here: InputError on a bad rule). */
  readonly relabelConfigs?: unknown;
  /**
   * 'auto' (default): watch pods when running in a cluster (service account mounted); 'off': never;
   * or an explicit API server configuration.
   */
  readonly kubernetes?: 'auto' | 'off' | KubeConfig;
  readonly log?: (line: string) => void;
  /** Where /proc is (tests point it elsewhere). */
  readonly procRoot?: string;
}

export interface Metadata {
  readonly labeler: ProcessLabeler;
  /** The pod watcher when Kubernetes metadata is on, for its counters. */
  readonly pods: PodWatcher | undefined;
  stop(): Promise<void>;
}

/**
 * Everything the agent needs to label processes: the relabel rules compiled up front (so a bad rule
 * stops startup with a clear message), and in a cluster a watch on this node's pods. Startup does not
 * wait for the API server: until the first list arrives processes get their /proc labels only.
 */
export function startMetadata(options: MetadataOptions): Metadata {
  const relabel = compileRelabelConfigs(options.relabelConfigs);
  const mode = options.kubernetes ?? 'auto';
  const config = mode === 'off' ? undefined : mode === 'auto' ? inClusterConfig() : mode;
  let pods: PodWatcher | undefined;
  if (config) {
    let lastError = '';
    pods = new PodWatcher({
      config,
      nodeName: options.nodeName,
      onError: (e) => {
        // One line per change of error, not one per retry.
        if (e.message !== lastError) options.log?.(`kubernetes pod watch: ${e.message}`);
        lastError = e.message;
      },
    });
    void pods.start().then(() => {
      const n = pods!.index.size;
      options.log?.(`kubernetes: watching pods on node ${options.nodeName} (${n} now)`);
      // The agent's own pod is on this node, so none at all means the node name is wrong — typically the
      // pod's host name used because NODE_NAME (downward API: spec.nodeName) was not set.
      if (n === 0) options.log?.(`kubernetes: no pods found on node "${options.nodeName}": set --node-name or NODE_NAME from spec.nodeName`);
    });
  }
  return {
    labeler: new MetadataLabeler({ nodeName: options.nodeName, pods: pods?.index, relabel, procRoot: options.procRoot }),
    pods,
    stop: async () => {
      await pods?.stop();
    },
  };
}
