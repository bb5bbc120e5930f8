import type { ContainerGpuPath, GpuInfo, HardwareProfile } from './types.js';

/**
 * Which GPUs the model services (containers) could be given. Shared by the recommendation and the
 * forced-choice checks so both read the machine the same way.
 */

/** NVIDIA GPUs nvidia-smi answered for: the only ones CUDA can use. */
export function nvidiaGpus(profile: HardwareProfile): GpuInfo[] {
  return profile.gpus.filter((g) => g.vendor === 'nvidia' && g.source === 'nvidia-smi');
}

/** AMD GPUs with known memory (rocm-smi or the amdgpu driver's sysfs files). */
export function amdGpus(profile: HardwareProfile): GpuInfo[] {
  return profile.gpus.filter((g) => g.vendor === 'amd' && (g.source === 'rocm-smi' || g.source === 'sysfs'));
}

export function appleGpus(profile: HardwareProfile): GpuInfo[] {
  return profile.gpus.filter((g) => g.vendor === 'apple');
}

/** Docker can hand NVIDIA GPUs to containers: the nvidia runtime, an NVIDIA CDI device, or the toolkit's hook. */
export function containersCanUseNvidia(c: ContainerGpuPath): boolean {
  if (!c.dockerReachable) return false;
  return c.nvidiaRuntime || (c.cdiDevices ?? []).some((d) => /nvidia/i.test(d)) || c.nvidiaHook === true;
}

/** ROCm containers get /dev/kfd and /dev/dri; both must exist on the Docker host. */
export function containersCanUseAmd(c: ContainerGpuPath): boolean {
  if (!c.dockerReachable) return false;
  return c.amdDevices === true || (c.cdiDevices ?? []).some((d) => /^amd\.com\//i.test(d));
}

/** What Docker offers for NVIDIA, in words: "the nvidia runtime", "CDI (nvidia.com/gpu)". */
export function nvidiaPathWords(c: ContainerGpuPath): string {
  const ways: string[] = [];
  if (c.nvidiaRuntime) ways.push('the nvidia runtime');
  const cdi = (c.cdiDevices ?? []).filter((d) => /nvidia/i.test(d));
  if (cdi.length > 0) ways.push(`CDI (${cdi.join(', ')})`);
  if (c.nvidiaHook === true && ways.length === 0) ways.push('the NVIDIA Container Toolkit hook');
  return ways.join(' and ');
}

export const NVIDIA_TOOLKIT_FIX =
  'install the NVIDIA Container Toolkit (nvidia-container-toolkit), then run `sudo nvidia-ctk runtime configure --runtime=docker` and `sudo systemctl restart docker`';

export function gpuLabel(g: GpuInfo): string {
  return `GPU ${g.index} (${g.name})`;
}
