import { containersCanUseAmd, containersCanUseNvidia, NVIDIA_TOOLKIT_FIX, nvidiaGpus, amdGpus, nvidiaPathWords } from './gpu-access.js';
import { effectiveRam } from './recommend.js';
import type { DiskInfo, GpuInfo, HardwareProfile, Recommendation } from './types.js';
import { formatBytes } from '../bytes.js';
import { MiB } from './units.js';

/** Version of the `msting hardware --json` document; raised only when a key changes meaning or goes away. */
export const HARDWARE_JSON_VERSION = 1;

/** A config problem as the report shows it (the shape of config/problems.ts ConfigProblem). */
export interface ReportedConfigProblem {
  severity: 'error' | 'warning';
  path: string;
  line: number | null;
  column: number | null;
  message: string;
  hint: string | null;
}

export interface HardwareReportInput {
  profile: HardwareProfile;
  recommendation: Recommendation;
  config: { path: string; exists: boolean };
  configProblems: ReportedConfigProblem[];
}

/** How containers reach a GPU: nvidia, amd, none (a GPU exists but Docker cannot hand it over), no-gpu, unknown (Docker unreachable). */
export function gpuAccess(profile: HardwareProfile): 'nvidia' | 'amd' | 'none' | 'no-gpu' | 'unknown' {
  const c = profile.container;
  if (nvidiaGpus(profile).length > 0 && containersCanUseNvidia(c)) return 'nvidia';
  if (amdGpus(profile).length > 0 && containersCanUseAmd(c)) return 'amd';
  if (!c.dockerReachable) return 'unknown';
  return nvidiaGpus(profile).length + amdGpus(profile).length > 0 ? 'none' : 'no-gpu';
}

function disk(d: DiskInfo | null): { path: string; freeBytes: number; totalBytes: number } | null {
  return d === null ? null : { path: d.path, freeBytes: d.freeBytes, totalBytes: d.totalBytes };
}

/** The `--json` document. Every key is always present (null or empty when unknown), in a fixed order. */
export function hardwareJson(input: HardwareReportInput): Record<string, unknown> {
  const { profile: p, recommendation: r } = input;
  const c = p.container;
  return {
    version: HARDWARE_JSON_VERSION,
    os: { platform: p.os.platform, release: p.os.release, arch: p.os.arch },
    cpu: {
      model: p.cpu.model,
      cores: p.cpu.cores,
      threads: p.cpu.threads,
      arch: p.cpu.arch,
      flags: { avx2: p.cpu.flags.avx2, avx512: p.cpu.flags.avx512, avx512bf16: p.cpu.flags.avx512bf16, avx512vnni: p.cpu.flags.avx512vnni, amx: p.cpu.flags.amx },
    },
    memory: {
      totalBytes: p.memory.totalBytes,
      availableBytes: p.memory.availableBytes,
      cgroupLimitBytes: p.memory.cgroupLimitBytes,
      effectiveBytes: effectiveRam(p).bytes,
    },
    gpus: p.gpus.map((g) => ({
      vendor: g.vendor,
      index: g.index,
      name: g.name,
      uuid: g.uuid,
      memoryTotalMiB: g.memoryTotalMiB,
      memoryFreeMiB: g.memoryFreeMiB,
      computeCapability: g.computeCapability,
      architecture: g.architecture ?? null,
      driverVersion: g.driverVersion,
      unifiedMemory: g.unifiedMemory === true,
      source: g.source,
    })),
    container: {
      dockerReachable: c.dockerReachable,
      error: c.error ?? null,
      serverVersion: c.serverVersion ?? null,
      runtimes: c.runtimes,
      nvidiaRuntime: c.nvidiaRuntime,
      nvidiaHook: c.nvidiaHook === true,
      cdi: c.cdi,
      cdiDevices: c.cdiDevices ?? [],
      amdDevices: c.amdDevices === true,
      rootDir: c.rootDir ?? null,
      memTotalBytes: c.memTotalBytes ?? null,
      gpuAccess: gpuAccess(p),
    },
    disks: { models: disk(p.disks.models), dockerRoot: disk(p.disks.dockerRoot) },
    problems: (p.problems ?? []).map((x) => ({ source: x.source, message: x.message, hint: x.hint ?? null })),
    recommendation: {
      device: r.device,
      precision: r.precision,
      gpuReservation: r.gpuReservation,
      budget: r.budget ?? null,
      models: r.models.map((m) => ({
        name: m.name,
        enabled: m.enabled ?? true,
        fits: m.fits,
        parametersB: m.parametersB ?? null,
        sizeSource: m.sizeSource ?? 'unknown',
        quantization: m.quantization,
        requiredBytes: m.requiredBytes,
        memoryLimit: m.memoryLimit,
        reason: m.reason,
      })),
      reasons: r.reasons,
      advice: r.advice,
    },
    config: { path: input.config.path, exists: input.config.exists },
    configProblems: input.configProblems.map((x) => ({ severity: x.severity, path: x.path, line: x.line, column: x.column, message: x.message, hint: x.hint })),
  };
}

type Paint = (tone: 'green' | 'yellow' | 'red' | 'bold' | 'dim', text: string) => string;

function cpuLine(p: HardwareProfile): string {
  const f = p.cpu.flags;
  const sets = [f.avx2 && 'AVX2', f.avx512 && 'AVX-512', f.avx512bf16 && 'AVX-512 BF16', f.avx512vnni && 'AVX-512 VNNI', f.amx && 'AMX'].filter(Boolean).join(' ');
  return `${p.cpu.model}, ${p.cpu.cores} cores / ${p.cpu.threads} threads, ${p.cpu.arch}${sets ? `; ${sets}` : ''}`;
}

function memoryLine(p: HardwareProfile): string {
  const m = p.memory;
  const limit = m.cgroupLimitBytes !== null ? `; container limit ${formatBytes(m.cgroupLimitBytes)}` : '';
  const docker = effectiveRam(p).why === "the memory of Docker's VM" ? `; Docker's VM ${formatBytes(p.container.memTotalBytes ?? 0)}` : '';
  return `${formatBytes(m.totalBytes)} total, ${formatBytes(m.availableBytes)} available${limit}${docker}`;
}

function gpuLine(g: GpuInfo): string {
  const mem =
    g.memoryTotalMiB === null
      ? g.unifiedMemory
        ? 'shares system memory'
        : 'unknown memory'
      : g.vendor === 'apple'
        ? `${formatBytes(g.memoryTotalMiB * MiB)} of unified memory usable by Metal`
        : `${formatBytes(g.memoryTotalMiB * MiB)}${g.memoryFreeMiB !== null ? ` (${formatBytes(g.memoryFreeMiB * MiB)} free)` : ''}`;
  const extra = [g.computeCapability && `compute ${g.computeCapability}`, g.architecture, g.driverVersion && `driver ${g.driverVersion}`].filter(Boolean).join(', ');
  return `${g.name}: ${mem}${extra ? `, ${extra}` : ''} [${g.source}]`;
}

function dockerLine(p: HardwareProfile, paint: Paint): string {
  const c = p.container;
  if (!c.dockerReachable) return paint('yellow', `not reachable: ${c.error ?? 'unknown error'}`);
  const head = `Docker ${c.serverVersion ?? ''}`.trim();
  switch (gpuAccess(p)) {
    case 'nvidia':
      return `${head}; containers get the NVIDIA GPU through ${nvidiaPathWords(c)}`;
    case 'amd':
      return `${head}; containers get the AMD GPU through /dev/kfd`;
    case 'none':
      return `${head}; ${paint('yellow', 'containers cannot use the GPU')}: ${nvidiaGpus(p).length > 0 ? NVIDIA_TOOLKIT_FIX : 'install ROCm so /dev/kfd exists'}`;
    default:
      return `${head}; runtimes ${c.runtimes.join(', ') || 'none'}`;
  }
}

function diskText(d: DiskInfo | null): string {
  return d === null ? 'unknown' : `${formatBytes(d.freeBytes)} free of ${formatBytes(d.totalBytes)}`;
}

/** The human report: one screen, labels on the left. */
export function formatHardwareText(input: HardwareReportInput, paint: Paint): string[] {
  const { profile: p, recommendation: r } = input;
  const row = (label: string, text: string): string => `${label.padEnd(10)}${text}`;
  const lines: string[] = [];
  lines.push(row('CPU', cpuLine(p)));
  lines.push(row('Memory', memoryLine(p)));
  if (p.gpus.length === 0) lines.push(row('GPU', 'none found'));
  for (const g of p.gpus) lines.push(row(`GPU ${g.index}`, gpuLine(g)));
  lines.push(row('Docker', dockerLine(p, paint)));
  const models = p.disks.models;
  lines.push(row('Disk', `models ${models?.path ?? '?'}: ${diskText(models)}${p.disks.dockerRoot ? `; Docker data ${p.disks.dockerRoot.path}: ${diskText(p.disks.dockerRoot)}` : ''}`));
  for (const x of p.problems ?? []) {
    if (x.source === 'docker') continue; // already on the Docker line
    lines.push(row('Problem', `${paint('yellow', x.message)}${x.hint ? ` (${x.hint})` : ''}`));
  }
  lines.push('');
  lines.push(paint('bold', `Recommendation: ${r.device}, ${r.precision}`));
  for (const reason of r.reasons) lines.push(`  - ${reason}`);
  if (r.models.length > 0) {
    lines.push('');
    const width = Math.max(...r.models.map((m) => m.name.length));
    for (const m of r.models) {
      const state = m.enabled === false ? paint('dim', 'off ') : m.fits ? paint('green', 'fits') : paint('red', 'no  ');
      lines.push(`  ${m.name.padEnd(width)}  ${state}  ${m.quantization.padEnd(4)}  limit ${m.memoryLimit.padEnd(4)}  ${m.reason}`);
    }
  }
  if (r.advice.length > 0) {
    lines.push('');
    lines.push(paint('bold', 'To change'));
    for (const a of r.advice) lines.push(`  - ${a}`);
  }
  if (input.configProblems.length > 0) {
    lines.push('');
    lines.push(paint('bold', `Config problems (${input.config.path})`));
    for (const x of input.configProblems) {
      const where = x.line !== null ? `:${x.line}:${x.column ?? 1}` : '';
      lines.push(`  ${paint(x.severity === 'error' ? 'red' : 'yellow', x.severity)}${where} ${x.path}: ${x.message}${x.hint ? ` (${x.hint})` : ''}`);
    }
  }
  return lines;
}
