import type { MstingConfig } from '../config/schema.js';
import { autoDeviceName, checkForcedChoices } from './forced-choices.js';
import {
  NVIDIA_TOOLKIT_FIX,
  amdGpus,
  appleGpus,
  containersCanUseAmd,
  containersCanUseNvidia,
  gpuLabel,
  nvidiaGpus,
  nvidiaPathWords,
} from './gpu-access.js';
import { computeCapabilityAtLeast } from './parse-nvidia-smi.js';
import { BYTES_PER_PARAM, estimateModelBytes, guessParametersB, type Quantization } from './sizing.js';
import type { Device, GpuInfo, HardwareProfile, MemoryBudget, ModelFit, Precision, Recommendation } from './types.js';
import { formatBytes } from '../bytes.js';
import { GiB, MiB, composeSize, parseMemorySize } from './units.js';

/**
 * The pure decision: what the model services run on, at which precision, which configured models
 * fit and with what memory limit. Every choice carries its reason in plain words.
 */

/** Kept back on every GPU for the CUDA/ROCm context and fragmentation (llama.cpp's default fit margin). */
export const GPU_RESERVE_PER_DEVICE = 1 * GiB;
/** Kept back on Apple's unified memory (Ollama's Metal minimum). */
export const METAL_RESERVE = 512 * MiB;
/** Kept back from system RAM for the rest of the stack and the OS: a quarter, at least 4 GiB. */
export function ramReserve(totalBytes: number): number {
  return Math.max(4 * GiB, Math.round(totalBytes * 0.25));
}
/** Host RAM a GPU model service needs: the Python runtime, plus staging the weights one shard at a time. */
export const GPU_SERVICE_RUNTIME = 2 * GiB;
export const GPU_SERVICE_STAGING_MAX = 6 * GiB;

/** A smaller model to suggest when nothing fits. */
export const SMALL_MODEL = { label: 'Phi-3-mini', repo: 'microsoft/Phi-3-mini-128k-instruct', parametersB: 3.8 };

type LlmConfig = Pick<MstingConfig, 'llm'>;

interface DeviceChoice {
  device: Device;
  gpus: GpuInfo[];
  reasons: string[];
  advice: string[];
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function gpuList(gpus: GpuInfo[]): string {
  const names = [...new Set(gpus.map((g) => g.name))];
  return names.length === 1 && gpus.length > 1 ? `${gpus.length}× ${names[0]}` : names.join(', ');
}

/** The system memory models and containers can count on: a cgroup limit or Docker's VM size wins over the host's RAM. */
export function effectiveRam(profile: HardwareProfile): { bytes: number; why: string } {
  let bytes = profile.memory.totalBytes;
  let why = 'system RAM';
  if (profile.memory.cgroupLimitBytes !== null && profile.memory.cgroupLimitBytes < bytes) {
    bytes = profile.memory.cgroupLimitBytes;
    why = 'the container memory limit (cgroup)';
  }
  const docker = profile.container.memTotalBytes;
  if (profile.container.dockerReachable && docker !== null && docker !== undefined && docker < bytes * 0.98) {
    bytes = docker;
    why = "the memory of Docker's VM";
  }
  return { bytes, why };
}

function autoDevice(profile: HardwareProfile): DeviceChoice {
  const c = profile.container;
  const nvidia = nvidiaGpus(profile);
  const amd = amdGpus(profile);
  const apple = appleGpus(profile);
  const dockerDown = `Docker is not reachable${c.error ? ` (${c.error})` : ''}`;
  if (nvidia.length > 0) {
    const found = `${plural(nvidia.length, 'NVIDIA GPU')} found (${gpuList(nvidia)})`;
    if (!c.dockerReachable) {
      return {
        device: 'cpu',
        gpus: [],
        reasons: [`${found}, but ${dockerDown}, so msting cannot tell whether containers can use ${nvidia.length === 1 ? 'it' : 'them'}: sized for the CPU`],
        advice: ['start Docker and run `msting hardware` again to size the models for the GPU'],
      };
    }
    if (!containersCanUseNvidia(c)) {
      return {
        device: 'cpu',
        gpus: [],
        reasons: [`${found}, but Docker cannot hand ${nvidia.length === 1 ? 'it' : 'them'} to containers (no nvidia runtime, no NVIDIA CDI device): sized for the CPU`],
        advice: [`to run models on the GPU: ${NVIDIA_TOOLKIT_FIX}`],
      };
    }
    return { device: 'cuda', gpus: nvidia, reasons: [`${found}; containers reach ${nvidia.length === 1 ? 'it' : 'them'} through ${nvidiaPathWords(c)}`], advice: [] };
  }
  if (amd.length > 0) {
    const found = `${plural(amd.length, 'AMD GPU')} found (${gpuList(amd)})`;
    if (!c.dockerReachable) {
      return { device: 'cpu', gpus: [], reasons: [`${found}, but ${dockerDown}: sized for the CPU`], advice: ['start Docker and run `msting hardware` again'] };
    }
    if (!containersCanUseAmd(c)) {
      return {
        device: 'cpu',
        gpus: [],
        reasons: [`${found}, but /dev/kfd is missing, so containers cannot be given the GPU: sized for the CPU`],
        advice: ['install ROCm (the amdgpu driver with KFD) so /dev/kfd exists, then run `msting hardware` again'],
      };
    }
    return { device: 'rocm', gpus: amd, reasons: [`${found}; containers get it through /dev/kfd and /dev/dri`], advice: [] };
  }
  if (apple.length > 0) {
    return {
      device: 'cpu',
      gpus: [],
      reasons: [`${apple[0]!.name} found, but Docker Desktop runs containers in a Linux VM that cannot reach Metal: model services run on the CPU`],
      advice: [],
    };
  }
  const others = profile.gpus.filter((g) => !nvidia.includes(g) && !amd.includes(g));
  return {
    device: 'cpu',
    gpus: [],
    reasons: [others.length > 0 ? `no GPU that model services can use (found ${gpuList(others)}, with no CUDA or ROCm driver answering)` : 'no GPU found: models run on the CPU'],
    advice: [],
  };
}

function chooseDevice(profile: HardwareProfile, config: LlmConfig, forcedErrors: string[]): DeviceChoice {
  const auto = autoDevice(profile);
  const forced = config.llm.device;
  if (forced === 'auto') return auto;
  if (forcedErrors.length > 0) {
    return { ...auto, reasons: [`llm.device: ${forced} cannot work here (${forcedErrors[0]}); ${auto.device} used instead`, ...auto.reasons] };
  }
  const gpus = forced === 'cuda' ? nvidiaGpus(profile) : forced === 'rocm' ? amdGpus(profile) : forced === 'mps' ? appleGpus(profile) : [];
  const note = forced === auto.device ? '' : ` (auto would choose ${auto.device})`;
  return { device: forced, gpus, reasons: [`llm.device is set to ${forced} in config.yml${note}`], advice: forced === auto.device ? auto.advice : [] };
}

function autoPrecision(device: Device, gpus: GpuInfo[]): { precision: Precision; reason: string } {
  switch (device) {
    case 'cuda': {
      const unknown = gpus.filter((g) => g.computeCapability === null);
      const old = gpus.filter((g) => g.computeCapability !== null && !computeCapabilityAtLeast(g.computeCapability, 8, 0));
      if (old.length > 0) return { precision: 'fp16', reason: `fp16: bf16 needs compute capability 8.0 or newer, and ${old.map((g) => `${gpuLabel(g)} is ${g.computeCapability}`).join(', ')}` };
      if (unknown.length > 0) return { precision: 'fp16', reason: `fp16: the driver does not report the compute capability of ${unknown.map(gpuLabel).join(', ')}, and bf16 needs 8.0` };
      const ccs = [...new Set(gpus.map((g) => g.computeCapability))].join(', ');
      return { precision: 'bf16', reason: `bf16: compute capability ${ccs} (8.0 or newer) runs bf16 natively, with the range of fp32` };
    }
    case 'rocm':
      return { precision: 'fp16', reason: 'fp16 on the AMD GPU' };
    case 'mps':
      return { precision: 'fp16', reason: 'fp16 on Apple Metal' };
    default:
      return { precision: 'int8', reason: 'int8 quantization on the CPU, as the STING-CE docs advise: half the memory of fp16 and faster on CPUs' };
  }
}

function levelOf(precision: Precision): Quantization {
  return precision === 'int8' ? 'int8' : precision === 'int4' ? 'int4' : 'none';
}

const LEVELS: Quantization[] = ['none', 'int8', 'int4'];

function levelWords(q: Quantization, precision: Precision): string {
  return q === 'none' ? (precision === 'int8' || precision === 'int4' ? 'bf16' : precision) : q;
}

function computeBudget(profile: HardwareProfile, device: Device, gpus: GpuInfo[]): { budget: MemoryBudget; reasons: string[] } {
  const ram = effectiveRam(profile);
  const ramBudget = (): MemoryBudget => {
    const reserve = Math.min(ram.bytes, ramReserve(ram.bytes));
    return { kind: 'ram', totalBytes: ram.bytes, reserveBytes: reserve, usableBytes: Math.max(0, ram.bytes - reserve), gpus: 0 };
  };
  if (device === 'cuda' || device === 'rocm') {
    const known = gpus.filter((g) => g.memoryTotalMiB !== null);
    const unified = gpus.filter((g) => g.memoryTotalMiB === null && g.unifiedMemory === true);
    if (known.length === 0 && unified.length > 0) {
      const b = ramBudget();
      return {
        budget: { ...b, kind: 'unified', gpus: unified.length },
        reasons: [`${gpuList(unified)} shares system memory (unified memory): sized against ${ram.why}, ${formatBytes(b.usableBytes)} usable after ${formatBytes(b.reserveBytes)} kept for the stack and the OS`],
      };
    }
    const total = known.reduce((s, g) => s + g.memoryTotalMiB! * MiB, 0);
    const reserve = known.length * GPU_RESERVE_PER_DEVICE;
    const budget: MemoryBudget = { kind: 'vram', totalBytes: total, reserveBytes: reserve, usableBytes: Math.max(0, total - reserve), gpus: known.length };
    const reasons: string[] = [];
    if (known.length > 1) {
      reasons.push(
        `GPU memory is counted together: ${formatBytes(total)} on ${known.length} GPUs, less ${formatBytes(GPU_RESERVE_PER_DEVICE)} per GPU = ${formatBytes(budget.usableBytes)} usable; each model service sees every GPU and spreads its layers over them`,
      );
    } else if (known.length === 1) {
      reasons.push(`${formatBytes(total)} of GPU memory, less ${formatBytes(reserve)} kept for the CUDA/ROCm context = ${formatBytes(budget.usableBytes)} usable`);
    }
    const missing = gpus.filter((g) => g.memoryTotalMiB === null && g.unifiedMemory !== true);
    if (missing.length > 0) reasons.push(`${missing.map(gpuLabel).join(', ')} did not report memory and is not counted`);
    for (const g of known) {
      const used = (g.memoryTotalMiB! - (g.memoryFreeMiB ?? g.memoryTotalMiB!)) * MiB;
      if (used > g.memoryTotalMiB! * MiB * 0.1) reasons.push(`${gpuLabel(g)} has ${formatBytes(used)} in use by other processes right now; models load only once it is free`);
    }
    return { budget, reasons };
  }
  if (device === 'mps') {
    const gpu = gpus[0];
    const share = gpu?.memoryTotalMiB !== null && gpu?.memoryTotalMiB !== undefined ? gpu.memoryTotalMiB * MiB : 0;
    return {
      budget: { kind: 'unified', totalBytes: share, reserveBytes: METAL_RESERVE, usableBytes: Math.max(0, share - METAL_RESERVE), gpus: gpu ? 1 : 0 },
      reasons: [`Metal lets the GPU use ${formatBytes(share)} of unified memory; ${formatBytes(Math.max(0, share - METAL_RESERVE))} usable`],
    };
  }
  const b = ramBudget();
  return { budget: b, reasons: [`${formatBytes(ram.bytes)} of ${ram.why}, less ${formatBytes(b.reserveBytes)} kept for the rest of the stack and the OS = ${formatBytes(b.usableBytes)} usable for models`] };
}

/** Candidate quantizations for one model, best first. */
function candidates(model: MstingConfig['llm']['models'][number], config: LlmConfig, precision: Precision): { levels: Quantization[]; fixedBy: string | null } {
  if (model.quantization !== undefined) return { levels: [model.quantization], fixedBy: `its quantization: ${model.quantization}` };
  const start = levelOf(precision);
  if (config.llm.precision !== 'auto') return { levels: [start], fixedBy: `llm.precision: ${config.llm.precision}` };
  return { levels: LEVELS.slice(LEVELS.indexOf(start)), fixedBy: null };
}

function serviceLimit(budgetKind: MemoryBudget['kind'], requiredBytes: number, weightsBytes: number): number {
  if (budgetKind === 'vram') return GPU_SERVICE_RUNTIME + Math.min(weightsBytes, GPU_SERVICE_STAGING_MAX);
  return requiredBytes * 1.1;
}

function fitModels(
  config: LlmConfig,
  precision: Precision,
  budget: MemoryBudget,
  advice: string[],
): ModelFit[] {
  const models = config.llm.models.map((m, i) => ({ m, i }));
  const byDefault = (a: { m: { name: string } }): number => (a.m.name === config.llm.default_model ? 0 : 1);
  const enabled = models.filter((x) => x.m.enabled).sort((a, b) => byDefault(a) - byDefault(b) || a.i - b.i);
  const disabled = models.filter((x) => !x.m.enabled);
  let remaining = budget.usableBytes;
  const placed: string[] = [];
  const fits = new Map<number, ModelFit>();
  const where = budget.kind === 'ram' ? 'RAM' : budget.kind === 'unified' ? 'unified memory' : 'GPU memory';

  for (const { m, i } of [...enabled, ...disabled]) {
    const size = guessParametersB(m);
    const { levels, fixedBy } = candidates(m, config, precision);
    const configured = m.memory_limit !== undefined ? parseMemorySize(m.memory_limit) : null;
    const state = m.enabled ? '' : 'disabled; ';
    if (size.value === null) {
      const limitBytes = configured ?? Math.min(remaining, 16 * GiB);
      fits.set(i, {
        name: m.name,
        fits: true,
        requiredBytes: 0,
        memoryLimit: m.memory_limit ?? composeSize(limitBytes),
        quantization: levels[0]!,
        reason: `${state}size unknown: set llm.models.${i}.parameters_b so msting can size it`,
        enabled: m.enabled,
        parametersB: null,
        sizeSource: 'unknown',
      });
      advice.push(`set llm.models.${i}.parameters_b for ${m.name}: its size cannot be read from "${m.repo}"`);
      continue;
    }
    const p = size.value;
    const from = size.source === 'config' ? 'parameters_b' : `guessed from "${m.repo}"`;
    let chosen: Quantization | null = null;
    for (const q of levels) {
      if (estimateModelBytes(p, q).totalBytes <= remaining) {
        chosen = q;
        break;
      }
    }
    const q = chosen ?? levels.at(-1)!;
    const est = estimateModelBytes(p, q);
    let fit = chosen !== null;
    const limit = configured ?? serviceLimit(budget.kind, est.totalBytes, est.weightsBytes);
    let reason: string;
    const need = `${p}B parameters (${from}) at ${levelWords(q, precision)}: ${formatBytes(est.totalBytes)} with KV cache and runtime`;
    if (fit) {
      const lowered = q !== levels[0] ? `; ${levelWords(levels[0]!, precision)} would need ${formatBytes(estimateModelBytes(p, levels[0]!).totalBytes)}` : '';
      reason = `${state}${need}, fits in ${formatBytes(remaining)} of ${where}${m.enabled ? '' : ' left by the enabled models'}${lowered}`;
    } else {
      const after = placed.length > 0 ? ` left after ${placed.join(', ')}` : '';
      reason = `${state}${need}; only ${formatBytes(remaining)} of ${where}${after}`;
    }
    if (fit && budget.kind !== 'vram' && configured !== null && configured < est.totalBytes) {
      fit = false;
      reason = `${state}${need}, above its memory_limit ${m.memory_limit}`;
      advice.push(`raise llm.models.${i}.memory_limit for ${m.name} to at least ${composeSize(est.totalBytes)}, or remove it to use msting's figure`);
    }
    if (m.enabled && fit) {
      remaining -= est.totalBytes;
      placed.push(m.name);
    }
    if (m.enabled && !fit && chosen === null) {
      const alone = estimateModelBytes(p, q).totalBytes <= budget.usableBytes;
      const lowest = levels.at(-1)!;
      if (alone && placed.length > 0) advice.push(`${m.name} fits alone but not next to ${placed.join(', ')}: disable a model (llm.models.N.enabled: false)`);
      if (fixedBy !== null && lowest !== 'int4') {
        const int4 = estimateModelBytes(p, 'int4').totalBytes;
        const verdict = int4 <= remaining ? 'fits' : 'still does not fit';
        advice.push(`${m.name} is held at ${levelWords(lowest, precision)} by ${fixedBy}; at int4 it needs ${formatBytes(int4)} and ${verdict} (set llm.models.${i}.quantization: int4)`);
      }
      if (p > SMALL_MODEL.parametersB) {
        const smallLevels = fixedBy === null ? levels : LEVELS.slice(LEVELS.indexOf(levels[0]!));
        const smallFit = smallLevels.find((l) => estimateModelBytes(SMALL_MODEL.parametersB, l).totalBytes <= remaining);
        advice.push(
          smallFit !== undefined
            ? `use a smaller model for ${m.name}, such as ${SMALL_MODEL.label} (llm.models.${i}.repo: ${SMALL_MODEL.repo}, ${SMALL_MODEL.parametersB}B: ${formatBytes(estimateModelBytes(SMALL_MODEL.parametersB, smallFit).totalBytes)} at ${levelWords(smallFit, precision)})`
            : `even ${SMALL_MODEL.label} (${SMALL_MODEL.parametersB}B) does not fit in ${formatBytes(remaining)}: this machine needs more memory for local models`,
        );
      }
    }
    fits.set(i, {
      name: m.name,
      fits: fit,
      requiredBytes: est.totalBytes,
      memoryLimit: m.memory_limit ?? composeSize(limit),
      quantization: q,
      reason,
      enabled: m.enabled,
      parametersB: p,
      sizeSource: size.source,
    });
  }
  const misfits = enabled.filter(({ i }) => !fits.get(i)!.fits);
  if (misfits.length > 0 && config.llm.precision === 'auto' && enabled.every(({ m }) => m.quantization === undefined)) {
    const sizes = enabled.map(({ m }) => guessParametersB(m).value);
    if (sizes.every((v): v is number => v !== null)) {
      const atInt4 = sizes.reduce((s, v) => s + estimateModelBytes(v, 'int4').totalBytes, 0);
      if (atInt4 <= budget.usableBytes) advice.push(`set llm.precision: int4 and every enabled model fits together (${formatBytes(atInt4)} of ${formatBytes(budget.usableBytes)})`);
    }
  }
  return models.map(({ i }) => fits.get(i)!);
}

function cpuNotes(profile: HardwareProfile, device: Device): string[] {
  if (device !== 'cpu') return [];
  const f = profile.cpu.flags;
  if (f.amx) return ['the CPU has AMX: int8 and bf16 matrix work runs on its tile units'];
  if (f.avx512vnni) return ['the CPU has AVX-512 VNNI: int8 runs on its fast dot-product instructions'];
  if (profile.cpu.arch === 'x64' && !f.avx2) return ['the CPU lacks AVX2: expect slow inference'];
  return [];
}

function diskNotes(profile: HardwareProfile, fitsList: ModelFit[], advice: string[]): string[] {
  const disk = profile.disks.models;
  const enabled = fitsList.filter((f) => f.enabled !== false && f.parametersB !== null && f.parametersB !== undefined);
  if (!disk || enabled.length === 0) return [];
  // Hub repositories publish weights in bf16 whatever the precision they are loaded at.
  const download = enabled.reduce((s, f) => s + f.parametersB! * 1e9 * BYTES_PER_PARAM.none, 0);
  if (download <= disk.freeBytes) return [`the enabled models download about ${formatBytes(download)}; ${formatBytes(disk.freeBytes)} free at ${disk.path}`];
  advice.push(`free disk space at ${disk.path} (or set STING_MODELS_DIR): the enabled models download about ${formatBytes(download)}, ${formatBytes(disk.freeBytes)} is free`);
  return [`not enough disk for the models: about ${formatBytes(download)} to download, ${formatBytes(disk.freeBytes)} free at ${disk.path}`];
}

/**
 * Decide from what the probe found and what config.yml asks. Pure: the same profile and config
 * always give the same recommendation, so rendering and tests can use hand-written machines.
 */
export function recommend(profile: HardwareProfile, config: LlmConfig): Recommendation {
  const forced = checkForcedChoices(profile, config).filter((p) => p.severity === 'error');
  const deviceErrors = forced.filter((p) => p.path === 'llm.device').map((p) => p.message);
  const choice = chooseDevice(profile, config, deviceErrors);
  const reasons = [...choice.reasons];
  const advice = [...choice.advice];

  const auto = autoPrecision(choice.device, choice.gpus);
  let precision: Precision = auto.precision;
  const precisionError = forced.find((p) => p.path === 'llm.precision');
  if (config.llm.precision === 'auto') reasons.push(auto.reason);
  else if (precisionError) reasons.push(`llm.precision: ${config.llm.precision} cannot work here (${precisionError.message}); ${auto.reason}`);
  else {
    precision = config.llm.precision;
    reasons.push(`${precision}: llm.precision is set in config.yml`);
  }

  const { budget, reasons: budgetReasons } = computeBudget(profile, choice.device, choice.gpus);
  reasons.push(...budgetReasons, ...cpuNotes(profile, choice.device));
  const models = fitModels(config, precision, budget, advice);
  if (models.filter((m) => m.enabled !== false).length === 0) reasons.push('no model is enabled in llm.models');
  reasons.push(...diskNotes(profile, models, advice));

  const gpuReservation =
    choice.device === 'cuda' && choice.gpus.length > 0
      ? { driver: 'nvidia' as const, deviceIds: choice.gpus.map((g) => g.uuid ?? String(g.index)) }
      : choice.device === 'rocm' && choice.gpus.length > 0
        ? { driver: 'amd' as const, deviceIds: choice.gpus.map((g) => String(g.index)) }
        : null;

  return { device: choice.device, precision, gpuReservation, models, reasons, advice: [...new Set(advice)], budget };
}

export { autoDeviceName };
