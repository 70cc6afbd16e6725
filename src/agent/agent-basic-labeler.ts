import { readlinkSync } from 'node:fs';
import { labelsFrom, type Labels } from '../model/index.js';
import type { ProcessLabeler } from './types.js';

/**
 * A stand-in ProcessLabeler with only what /proc gives cheaply — service_name (the executable's
 * name), comm, pid, executable, node. The full one (cgroup, container, Kubernetes, relabel rules)
 * lives in src/agent/metadata; this keeps the agent usable and testable without it.
 */
export class BasicLabeler implements ProcessLabeler {
  constructor(private readonly nodeName: string) {}

  labels(pid: number, comm: string): Labels {
    let executable = '';
    try {
      executable = readlinkSync(`/proc/${pid}/exe`);
    } catch {
      // Exited already, or a kernel thread (no exe): the comm still names it.
    }
    const base = executable.slice(executable.lastIndexOf('/') + 1).replace(/ \(deleted\)$/, '');
    return labelsFrom({ service_name: base || comm, comm, pid: String(pid), executable, node: this.nodeName });
  }
}
