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
}

export interface DiskInfo {
  path: string;
  freeBytes: number;
  totalBytes: number;
}

export interface HardwareProfile {
  os: { platform: NodeJS.Platform; release: string; arch: string };
  cpu: CpuInfo;
  memory: MemoryInfo;
  gpus: GpuInfo[];
  container: ContainerGpuPath;
  disks: { models: DiskInfo | null; dockerRoot: DiskInfo | null };
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
