/**
 * What the hardware probe finds (HardwareProfile) and what msting decides from it
 * (Recommendation). Rendering takes only the Recommendation, so it stays pure and testable
 * with a hand-written description of any machine.
 */

export type GpuVendor = 'nvidia' | 'amd' | 'apple' | 'other';

export interface GpuInfo {
  vendor: GpuVendor;
  index: number;
  name: string;
  uuid: string | null;
  /** Total memory the GPU can use, in MiB; null when unknown. */
  memoryTotalMiB: number | null;
  memoryFreeMiB: number | null;
  /** NVIDIA compute capability such as "9.0"; null elsewhere or when unknown. */
  computeCapability: string | null;
  driverVersion: string | null;
  /** Where the numbers came from: nvidia-smi, rocm-smi, sysfs, apple, systeminformation. */
  source: string;
  /** GPU memory is system memory (Apple Silicon, Grace/GB10); memoryTotalMiB is the GPU's share when known. */
  unifiedMemory?: boolean;
  /** AMD graphics target such as "gfx90a"; null or absent elsewhere. */
  architecture?: string | null;
}

export interface CpuInfo {
  model: string;
  cores: number;
  threads: number;
  arch: string;
  flags: { avx2: boolean; avx512: boolean; avx512bf16: boolean; avx512vnni: boolean; amx: boolean };
}

export interface MemoryInfo {
  totalBytes: number;
  availableBytes: number;
  /** cgroup memory limit when msting runs inside a container; it wins over the host total. */
  cgroupLimitBytes: number | null;
}

export interface ContainerGpuPath {
  /** Docker answered at all. */
  dockerReachable: boolean;
  runtimes: string[];
  nvidiaRuntime: boolean;
  cdi: boolean;
  /** Why Docker did not answer, in plain words; absent when it did. */
  error?: string;
  /** CDI device names Docker can inject, such as "nvidia.com/gpu=0" or "amd.com/gpu=all". */
  cdiDevices?: string[];
  /** nvidia-container-runtime-hook is installed: `--gpus` / compose GPU reservations work without a named runtime. */
  nvidiaHook?: boolean;
  /** /dev/kfd exists: ROCm containers can be handed the AMD GPU devices. */
  amdDevices?: boolean;
  /** Docker's data root (DockerRootDir). */
  rootDir?: string | null;
  /** Memory Docker's containers can use (MemTotal: the VM's memory under Docker Desktop). */
  memTotalBytes?: number | null;
  serverVersion?: string | null;
}

export interface DiskInfo {
  path: string;
  freeBytes: number;
  totalBytes: number;
}

/** Something a probe found wrong (a broken driver, a tool that timed out), with what to do about it. */
export interface HardwareProblem {
  /** The probe that found it: nvidia-smi, rocm-smi, docker, cpu, memory, disk, gpu. */
  source: string;
  message: string;
  hint?: string;
}

export interface HardwareProfile {
  os: { platform: NodeJS.Platform; release: string; arch: string };
  cpu: CpuInfo;
  memory: MemoryInfo;
  gpus: GpuInfo[];
  container: ContainerGpuPath;
  disks: { models: DiskInfo | null; dockerRoot: DiskInfo | null };
  /** What the probes could not find out, or found broken. Absent means none. */
  problems?: HardwareProblem[];
}

export type Device = 'cuda' | 'rocm' | 'mps' | 'cpu';
export type Precision = 'bf16' | 'fp16' | 'int8' | 'int4';

export interface ModelFit {
  name: string;
  fits: boolean;
  /** Estimated memory the model needs at the chosen precision, in bytes. */
  requiredBytes: number;
  /** Memory limit for the model service, as a compose size such as "12g". */
  memoryLimit: string;
  quantization: 'none' | 'int8' | 'int4';
  reason: string;
  /** The model is enabled in config (runs in the full profile). */
  enabled?: boolean;
  /** Parameter count in billions used for sizing; null when it could not be known. */
  parametersB?: number | null;
  /** Where the parameter count came from: config (parameters_b), name (guessed), unknown. */
  sizeSource?: 'config' | 'name' | 'unknown';
}

/** The memory models are sized against. */
export interface MemoryBudget {
  /** vram: the GPUs' own memory; unified: GPU memory shared with the system; ram: system memory (CPU). */
  kind: 'vram' | 'unified' | 'ram';
  totalBytes: number;
  /** Kept back for the runtime, the rest of the stack and the OS. */
  reserveBytes: number;
  usableBytes: number;
  /** GPUs the budget spans (0 for CPU). */
  gpus: number;
}

export interface Recommendation {
  device: Device;
  precision: Precision;
  /** Render GPU reservations: only when a GPU exists and containers can reach it. */
  gpuReservation: { driver: 'nvidia' | 'amd'; deviceIds: string[] } | null;
  models: ModelFit[];
  reasons: string[];
  /** What to change when nothing fits, in plain words. */
  advice: string[];
  /** The memory the models were sized against; absent in the fallback recommendation. */
  budget?: MemoryBudget;
}

/** The recommendation used when nothing is known about the machine: CPU, int8, every model allowed. */
export function cpuFallbackRecommendation(models: { name: string; enabled: boolean; memory_limit?: string | undefined }[]): Recommendation {
  return {
    device: 'cpu',
    precision: 'int8',
    gpuReservation: null,
    models: models.map((m) => ({
      name: m.name,
      fits: true,
      requiredBytes: 0,
      memoryLimit: m.memory_limit ?? '16g',
      quantization: 'int8',
      reason: 'hardware not probed; CPU assumed',
    })),
    reasons: ['hardware not probed: CPU with int8 quantization assumed'],
    advice: [],
  };
}
