import { describe, expect, it } from 'vitest';
import { allCgroupPaths, cgroupPathFromFile, containerFromCgroup, systemdUnitFromCgroup } from '../../../src/agent/metadata/cgroup.js';

const ID = '3f4b1c2d9e8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c';
const POD = '7d1e6b2a-5c4f-4e3d-9a8b-1c2d3e4f5a6b';

describe('container id from cgroup paths', () => {
  it.each([
    ['docker, systemd driver (cgroup v2)', `/system.slice/docker-${ID}.scope`, 'docker', ''],
    ['docker, cgroupfs driver (v1)', `/docker/${ID}`, 'docker', ''],
    ['docker rootless', `/user.slice/user-1000.slice/user@1000.service/docker-${ID}.scope`, 'docker', ''],
    ['containerd CRI, systemd driver', `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${POD.replace(/-/g, '_')}.slice/cri-containerd-${ID}.scope`, 'containerd', POD],
    ['containerd CRI, guaranteed QoS', `/kubepods.slice/kubepods-pod${POD.replace(/-/g, '_')}.slice/cri-containerd-${ID}.scope`, 'containerd', POD],
    ['kubepods, cgroupfs driver', `/kubepods/besteffort/pod${POD}/${ID}`, 'unknown', POD],
    ['cri-o, systemd driver', `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${POD.replace(/-/g, '_')}.slice/crio-${ID}.scope`, 'cri-o', POD],
    ['cri-o, cgroupfs driver', `/kubepods/burstable/pod${POD}/crio-${ID}`, 'cri-o', POD],
    ['podman, systemd (root)', `/machine.slice/libpod-${ID}.scope`, 'podman', ''],
    ['podman rootless with its init sub-cgroup', `/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-${ID}.scope/container`, 'podman', ''],
    ['podman, cgroupfs', `/libpod_parent/libpod-${ID}`, 'podman', ''],
    ['nerdctl (containerd)', `/system.slice/nerdctl-${ID}.scope`, 'containerd', ''],
    ['kind node (nested kubelet)', `/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod${POD.replace(/-/g, '_')}.slice/cri-containerd-${ID}.scope`, 'containerd', POD],
  ])('%s', (_name, path, runtime, podUid) => {
    expect(containerFromCgroup(path)).toEqual({ id: ID, runtime, podUid });
  });

  it.each([
    ['a systemd service', '/system.slice/nginx.service'],
    ['a login session', '/user.slice/user-1000.slice/session-3.scope'],
    ['the root', '/'],
    ['cri-o conmon (the monitor, not the container)', `/machine.slice/crio-conmon-${ID}.scope`],
    ['podman conmon', `/machine.slice/libpod-conmon-${ID}.scope`],
    ['a 63-hex near miss', `/docker/${ID.slice(1)}`],
  ])('no container for %s', (_name, path) => {
    expect(containerFromCgroup(path)).toBeUndefined();
  });
});

describe('systemd unit and cgroup file', () => {
  it('names the innermost service', () => {
    expect(systemdUnitFromCgroup('/system.slice/nginx.service')).toBe('nginx.service');
    expect(systemdUnitFromCgroup('/user.slice/user-1000.slice/user@1000.service/app.slice/syncthing.service')).toBe('syncthing.service');
    expect(systemdUnitFromCgroup(`/system.slice/docker-${ID}.scope`)).toBe('');
  });

  it('reads the v2 path, else the v1 systemd hierarchy, else the first non-root v1 path', () => {
    expect(cgroupPathFromFile('0::/system.slice/cron.service\n')).toBe('/system.slice/cron.service');
    const v1 = `12:pids:/docker/${ID}\n11:memory:/docker/${ID}\n1:name=systemd:/system.slice/docker-${ID}.scope\n0::/\n`;
    expect(cgroupPathFromFile(v1)).toBe(`/system.slice/docker-${ID}.scope`);
    expect(cgroupPathFromFile('4:memory:/process_api/a8fd\n3:cpuset:/\n0::/\n')).toBe('/process_api/a8fd');
    expect(cgroupPathFromFile('0::/\n')).toBe('/');
    expect(allCgroupPaths(v1)).toEqual([`/docker/${ID}`, `/system.slice/docker-${ID}.scope`]);
  });
});
