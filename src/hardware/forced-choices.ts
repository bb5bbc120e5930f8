import type { MstingConfig } from '../config/schema.js';
import { MstingError } from '../errors.js';
import { NVIDIA_TOOLKIT_FIX, amdGpus, appleGpus, containersCanUseAmd, containersCanUseNvidia, gpuLabel, nvidiaGpus } from './gpu-access.js';
import { computeCapabilityAtLeast } from './parse-nvidia-smi.js';
import type { HardwareProfile } from './types.js';

/**
 * `llm.device` and `llm.precision` may be forced in config.yml. A forced choice this machine cannot
 * honour is a config error, reported like every other config problem: key path, message, hint.
 */
export interface ForcedChoiceProblem {
  path: 'llm.device' | 'llm.precision';
  message: string;
  hint: string;
  /** error: rendering would produce services that cannot start. warning: msting cannot tell, or it runs slowly. */
  severity: 'error' | 'warning';
}

type LlmConfig = Pick<MstingConfig, 'llm'>;

function deviceProblems(profile: HardwareProfile, config: LlmConfig): ForcedChoiceProblem[] {
  const device = config.llm.device;
  const c = profile.container;
  const problems: ForcedChoiceProblem[] = [];
  const err = (message: string, hint: string): void => void problems.push({ path: 'llm.device', message, hint, severity: 'error' });
  const warn = (message: string, hint: string): void => void problems.push({ path: 'llm.device', message, hint, severity: 'warning' });
  const smiProblem = (profile.problems ?? []).find((p) => p.source === 'nvidia-smi');
  switch (device) {
    case 'cuda': {
      const gpus = nvidiaGpus(profile);
      if (gpus.length === 0) {
        err(
          smiProblem ? `llm.device is cuda, but ${smiProblem.message}` : 'llm.device is cuda, but this machine has no NVIDIA GPU that nvidia-smi can see',
          smiProblem?.hint ?? 'set llm.device: auto (or cpu), or install the NVIDIA driver so that `nvidia-smi` lists the GPU',
        );
      } else if (!c.dockerReachable) {
        warn(`llm.device is cuda, but Docker is not reachable, so msting cannot check that containers can use the GPU`, 'start Docker and run `msting hardware` again');
      } else if (!containersCanUseNvidia(c)) {
        err('llm.device is cuda, but Docker cannot hand NVIDIA GPUs to containers (no nvidia runtime, no NVIDIA CDI device)', NVIDIA_TOOLKIT_FIX);
      }
      break;
    }
    case 'rocm': {
      if (amdGpus(profile).length === 0) {
        err('llm.device is rocm, but this machine has no AMD GPU that rocm-smi or the amdgpu driver reports', 'set llm.device: auto (or cpu), or install ROCm so that `rocm-smi` lists the GPU');
      } else if (!c.dockerReachable) {
        warn('llm.device is rocm, but Docker is not reachable, so msting cannot check that containers can use the GPU', 'start Docker and run `msting hardware` again');
      } else if (!containersCanUseAmd(c)) {
        err('llm.device is rocm, but /dev/kfd is missing, so containers cannot be given the AMD GPU', 'load the amdgpu kernel driver with ROCm support (install ROCm), then check that /dev/kfd exists');
      }
      break;
    }
    case 'mps': {
      if (profile.os.platform !== 'darwin') {
        err(`llm.device is mps (Apple Metal), which exists only on macOS; this machine runs ${profile.os.platform}`, 'set llm.device: auto, cuda, rocm or cpu');
      } else if (appleGpus(profile).length === 0) {
        err('llm.device is mps, but this Mac has no Apple Silicon GPU', 'set llm.device: auto or cpu');
      } else {
        warn(
          'llm.device is mps, but containers under Docker Desktop run in a Linux VM that cannot reach Metal; model services in Docker will fail to find the GPU',
          'set llm.device: auto (CPU inside Docker) unless your model services run natively on macOS',
        );
      }
      break;
    }
    default:
      break;
  }
  return problems;
}

/** The device the precision has to work on: the forced one, or what auto would pick. */
function precisionProblems(profile: HardwareProfile, config: LlmConfig, device: string): ForcedChoiceProblem[] {
  const precision = config.llm.precision;
  const problems: ForcedChoiceProblem[] = [];
  if (precision === 'bf16' && device === 'cuda') {
    const gpus = nvidiaGpus(profile);
    const old = gpus.filter((g) => g.computeCapability !== null && !computeCapabilityAtLeast(g.computeCapability, 8, 0));
    const unknown = gpus.filter((g) => g.computeCapability === null);
    if (old.length > 0) {
      problems.push({
        path: 'llm.precision',
        message: `llm.precision is bf16, which needs compute capability 8.0 (Ampere) or newer; ${old.map((g) => `${gpuLabel(g)} is ${g.computeCapability}`).join(', ')}`,
        hint: 'set llm.precision: fp16 (or auto)',
        severity: 'error',
      });
    } else if (unknown.length > 0) {
      problems.push({
        path: 'llm.precision',
        message: `llm.precision is bf16, but the driver does not report the compute capability of ${unknown.map(gpuLabel).join(', ')}`,
        hint: 'bf16 needs an Ampere or newer GPU; set llm.precision: fp16 if yours is older',
        severity: 'warning',
      });
    }
  }
  if (device === 'cpu' && (precision === 'bf16' || precision === 'fp16')) {
    const f = profile.cpu.flags;
    const native = precision === 'bf16' && (f.avx512bf16 || f.amx);
    if (!native) {
      problems.push({
        path: 'llm.precision',
        message: `llm.precision is ${precision} on the CPU, which has no native ${precision} instructions${precision === 'bf16' ? ' (AVX-512 BF16 or AMX)' : ''}: models run slowly and take twice the memory of int8`,
        hint: 'set llm.precision: int8 (or auto) for CPU inference',
        severity: 'warning',
      });
    }
  }
  return problems;
}

/**
 * Problems with what config.yml forces, on this machine. Pure: the profile is what the probe found.
 * An empty list when llm.device and llm.precision are auto.
 */
export function checkForcedChoices(profile: HardwareProfile, config: LlmConfig): ForcedChoiceProblem[] {
  const device = deviceProblems(profile, config);
  const deviceBroken = device.some((p) => p.severity === 'error');
  const effectiveDevice = config.llm.device === 'auto' || deviceBroken ? autoDeviceName(profile) : config.llm.device;
  return [...device, ...(config.llm.precision === 'auto' ? [] : precisionProblems(profile, config, effectiveDevice))];
}

/** The device auto would choose; kept in step with recommend()'s choice. */
export function autoDeviceName(profile: HardwareProfile): 'cuda' | 'rocm' | 'cpu' {
  if (nvidiaGpus(profile).length > 0 && containersCanUseNvidia(profile.container)) return 'cuda';
  if (nvidiaGpus(profile).length === 0 && amdGpus(profile).length > 0 && containersCanUseAmd(profile.container)) return 'rocm';
  return 'cpu';
}

/** Throw CONFIG_INVALID (exit 3) when a forced choice cannot work; warnings do not throw. */
export function assertForcedChoices(profile: HardwareProfile, config: LlmConfig): void {
  const errors = checkForcedChoices(profile, config).filter((p) => p.severity === 'error');
  if (errors.length === 0) return;
  throw new MstingError('CONFIG_INVALID', `config.yml forces ${errors.length === 1 ? 'a choice' : 'choices'} this machine cannot honour`, {
    details: errors.map((p) => `${p.path}: ${p.message} (hint: ${p.hint})`),
    hint: errors[0]!.hint,
  });
}
