import { describe, expect, it } from 'vitest';
import { configSchema, type ConfigInput, type MstingConfig } from '../../../src/config/schema.js';
import { assertForcedChoices, checkForcedChoices } from '../../../src/hardware/forced-choices.js';
import { parseNvidiaSmi } from '../../../src/hardware/parse-nvidia-smi.js';
import { parseRocmSmi } from '../../../src/hardware/parse-rocm-smi.js';
import { recommend } from '../../../src/hardware/recommend.js';
import type { ContainerGpuPath, GpuInfo, HardwareProfile } from '../../../src/hardware/types.js';
import { GiB, fixture } from './fake-machine.js';

const NO_FLAGS = { avx2: true, avx512: false, avx512bf16: false, avx512vnni: false, amx: false };

const DOCKER_PLAIN: ContainerGpuPath = { dockerReachable: true, runtimes: ['runc'], nvidiaRuntime: false, cdi: false, cdiDevices: [], memTotalBytes: null };
const DOCKER_NVIDIA: ContainerGpuPath = { ...DOCKER_PLAIN, runtimes: ['nvidia', 'runc'], nvidiaRuntime: true };
const DOCKER_DOWN: ContainerGpuPath = { dockerReachable: false, runtimes: [], nvidiaRuntime: false, cdi: false, error: 'the Docker daemon is not running' };

/** A machine as the probe would describe it. */
function machine(o: { ramGiB?: number; gpus?: GpuInfo[]; container?: ContainerGpuPath; cgroupGiB?: number; platform?: NodeJS.Platform; arch?: string; diskFreeGiB?: number }): HardwareProfile {
  const ram = (o.ramGiB ?? 64) * GiB;
  return {
    os: { platform: o.platform ?? 'linux', release: '6.8.0', arch: o.arch ?? 'x64' },
    cpu: { model: 'test CPU', cores: 16, threads: 32, arch: o.arch ?? 'x64', flags: NO_FLAGS },
    memory: { totalBytes: ram, availableBytes: ram, cgroupLimitBytes: o.cgroupGiB === undefined ? null : o.cgroupGiB * GiB },
    gpus: o.gpus ?? [],
    container: o.container ?? DOCKER_PLAIN,
    disks: { models: { path: '/opt/models', freeBytes: (o.diskFreeGiB ?? 500) * GiB, totalBytes: 1000 * GiB }, dockerRoot: null },
    problems: [],
  };
}

function config(llm: ConfigInput['llm'] = {}): MstingConfig {
  return configSchema.parse({ llm });
}

const nv = (file: string): GpuInfo[] => parseNvidiaSmi(fixture(file)).gpus;
const ALL_MODELS_ON = config({
  models: [
    { name: 'llama3', repo: 'meta-llama/Llama-3.1-8B', enabled: true },
    { name: 'phi3', repo: 'microsoft/Phi-3-medium-128k-instruct', enabled: true },
    { name: 'zephyr', repo: 'HuggingFaceH4/zephyr-7b-beta', enabled: true },
  ],
});

type Row = {
  machine: string;
  profile: HardwareProfile;
  config?: MstingConfig;
  device: string;
  precision: string;
  /** name → [fits, quantization, memory limit] for enabled models. */
  models: Record<string, [boolean, string, string]>;
};

const table: Row[] = [
  { machine: 'H100 80 GB, nvidia runtime', profile: machine({ gpus: nv('nvidia-smi-h100.csv'), container: DOCKER_NVIDIA }), device: 'cuda', precision: 'bf16', models: { phi3: [true, 'none', '8g'] } },
  { machine: 'RTX 3060 12 GB (cc 8.6)', profile: machine({ gpus: nv('nvidia-smi-rtx3060.csv'), container: DOCKER_NVIDIA }), device: 'cuda', precision: 'bf16', models: { phi3: [true, 'int4', '8g'] } },
  { machine: 'RTX 2080 8 GB (cc 7.5)', profile: machine({ gpus: nv('nvidia-smi-rtx2080.csv'), container: DOCKER_NVIDIA }), device: 'cuda', precision: 'fp16', models: { phi3: [false, 'int4', '8g'] } },
  {
    machine: '4× A100 80 GB, three models',
    profile: machine({ gpus: nv('nvidia-smi-4x-a100.csv'), container: DOCKER_NVIDIA }),
    config: ALL_MODELS_ON,
    device: 'cuda',
    precision: 'bf16',
    models: { llama3: [true, 'none', '8g'], phi3: [true, 'none', '8g'], zephyr: [true, 'none', '8g'] },
  },
  {
    // The real capture from a 16-core, 126 GiB H100 machine: every default model fits at bf16 (58 of 78.6 GiB usable).
    machine: 'H100 80 GB (captured, driver 580), 126 GB RAM, three models',
    profile: machine({ ramGiB: 126, gpus: nv('nvidia-smi-h100-driver580.csv'), container: DOCKER_NVIDIA }),
    config: ALL_MODELS_ON,
    device: 'cuda',
    precision: 'bf16',
    models: { llama3: [true, 'none', '8g'], phi3: [true, 'none', '8g'], zephyr: [true, 'none', '8g'] },
  },
  { machine: 'RTX 4090 + RTX 2080 Ti', profile: machine({ gpus: nv('nvidia-smi-mixed.csv'), container: DOCKER_NVIDIA }), device: 'cuda', precision: 'fp16', models: { phi3: [true, 'none', '8g'] } },
  { machine: 'H100 without the container toolkit', profile: machine({ gpus: nv('nvidia-smi-h100.csv') }), device: 'cpu', precision: 'int8', models: { phi3: [true, 'int8', '16g'] } },
  { machine: 'H100, Docker down', profile: machine({ gpus: nv('nvidia-smi-h100.csv'), container: DOCKER_DOWN }), device: 'cpu', precision: 'int8', models: { phi3: [true, 'int8', '16g'] } },
  { machine: 'no GPU, 64 GB', profile: machine({}), device: 'cpu', precision: 'int8', models: { phi3: [true, 'int8', '16g'] } },
  { machine: 'no GPU, 16 GB', profile: machine({ ramGiB: 16 }), device: 'cpu', precision: 'int8', models: { phi3: [true, 'int4', '9g'] } },
  { machine: 'no GPU, in a container limited to 8 GB', profile: machine({ cgroupGiB: 8 }), device: 'cpu', precision: 'int8', models: { phi3: [false, 'int4', '9g'] } },
  {
    machine: 'GB10 (unified memory), 128 GB',
    profile: machine({ ramGiB: 128, gpus: nv('nvidia-smi-gb10-na.csv'), container: DOCKER_NVIDIA }),
    config: ALL_MODELS_ON,
    device: 'cuda',
    precision: 'bf16',
    models: { llama3: [true, 'none', '18g'], phi3: [true, 'none', '31g'], zephyr: [true, 'none', '16g'] },
  },
  {
    machine: '2× MI210, /dev/kfd',
    profile: machine({ gpus: parseRocmSmi(JSON.parse(fixture('rocm-smi-mi210.json'))), container: { ...DOCKER_PLAIN, amdDevices: true } }),
    device: 'rocm',
    precision: 'fp16',
    models: { phi3: [true, 'none', '8g'] },
  },
  {
    machine: 'Apple M2 Max 64 GB, Docker Desktop VM 8 GB',
    profile: machine({
      platform: 'darwin',
      arch: 'arm64',
      gpus: [{ vendor: 'apple', index: 0, name: 'Apple M2 Max GPU', uuid: null, memoryTotalMiB: 48 * 1024, memoryFreeMiB: null, computeCapability: null, driverVersion: null, source: 'apple', unifiedMemory: true }],
      container: { ...DOCKER_PLAIN, memTotalBytes: 8 * GiB },
    }),
    device: 'cpu',
    precision: 'int8',
    models: { phi3: [false, 'int4', '9g'] },
  },
];

describe('recommend: machines → decisions', () => {
  it.each(table)('$machine', (row) => {
    const r = recommend(row.profile, row.config ?? config());
    expect(r.device).toBe(row.device);
    expect(r.precision).toBe(row.precision);
    const enabled = Object.fromEntries(r.models.filter((m) => m.enabled).map((m) => [m.name, [m.fits, m.quantization, m.memoryLimit]]));
    expect(enabled).toEqual(row.models);
    expect(r.reasons.length).toBeGreaterThan(1);
  });
});

describe('recommend: reasons and advice in plain words', () => {
  it('H100: reservation by UUID and the reason for bf16', () => {
    const r = recommend(machine({ gpus: nv('nvidia-smi-h100.csv'), container: DOCKER_NVIDIA }), config());
    expect(r.gpuReservation).toEqual({ driver: 'nvidia', deviceIds: ['GPU-6e1b2f0c-5d1a-8f3e-2c44-9a0b7d3e5f11'] });
    expect(r.reasons.join('\n')).toMatch(/bf16: compute capability 9\.0/);
    expect(r.budget).toMatchObject({ kind: 'vram', gpus: 1, reserveBytes: GiB });
  });

  it('a GPU containers cannot use: CPU, with the toolkit fix', () => {
    const r = recommend(machine({ gpus: nv('nvidia-smi-h100.csv') }), config());
    expect(r.gpuReservation).toBeNull();
    expect(r.reasons[0]).toContain('Docker cannot hand it to containers');
    expect(r.advice.join('\n')).toContain('nvidia-ctk runtime configure --runtime=docker');
  });

  it('Docker unreachable: CPU, saying why', () => {
    const r = recommend(machine({ gpus: nv('nvidia-smi-h100.csv'), container: DOCKER_DOWN }), config());
    expect(r.reasons[0]).toContain('Docker is not reachable (the Docker daemon is not running)');
  });

  it('fp16 on the RTX 2080 says why, and nothing fits: suggests Phi-3-mini', () => {
    const r = recommend(machine({ gpus: nv('nvidia-smi-rtx2080.csv'), container: DOCKER_NVIDIA }), config());
    expect(r.reasons.join('\n')).toContain('GPU 0 (NVIDIA GeForce RTX 2080) is 7.5');
    expect(r.advice.join('\n')).toMatch(/Phi-3-mini \(llm\.models\.1\.repo: microsoft\/Phi-3-mini-128k-instruct/);
  });

  it('several GPUs: memory counted together, explained; a busy GPU is noticed', () => {
    const r = recommend(machine({ gpus: nv('nvidia-smi-4x-a100.csv'), container: DOCKER_NVIDIA }), ALL_MODELS_ON);
    expect(r.budget).toMatchObject({ totalBytes: 4 * 80 * GiB, reserveBytes: 4 * GiB, gpus: 4 });
    expect(r.reasons.join('\n')).toContain('counted together');
    expect(r.reasons.join('\n')).toContain('GPU 2 (NVIDIA A100-SXM4-80GB) has 28.9 GiB in use by other processes');
    expect(r.reasons.join('\n')).not.toContain('GPU 1 (NVIDIA A100-SXM4-80GB) has');
    expect(r.gpuReservation?.deviceIds).toHaveLength(4);
  });

  it('models that fit alone but not together: the later one is told to make room, or to go to int4', () => {
    const r = recommend(machine({ ramGiB: 32 }), ALL_MODELS_ON);
    const fits = Object.fromEntries(r.models.map((m) => [m.name, [m.fits, m.quantization]]));
    expect(fits).toEqual({ phi3: [true, 'int8'], llama3: [true, 'int8'], zephyr: [false, 'int4'] });
    expect(r.advice.join('\n')).toContain('zephyr fits alone but not next to phi3, llama3');
    expect(r.advice.join('\n')).toContain('set llm.precision: int4 and every enabled model fits together');
  });

  it('the default model is placed first', () => {
    const r = recommend(machine({ ramGiB: 24 }), config({ ...ALL_MODELS_ON.llm, default_model: 'zephyr' }));
    expect(r.models.find((m) => m.name === 'zephyr')?.fits).toBe(true);
  });

  it('a model of unknown size is kept and flagged', () => {
    const r = recommend(machine({}), config({ models: [{ name: 'chat', repo: 'org/mystery-model' }], default_model: 'chat' }));
    expect(r.models[0]).toMatchObject({ name: 'chat', fits: true, parametersB: null, sizeSource: 'unknown' });
    expect(r.advice.join('\n')).toContain('set llm.models.0.parameters_b');
  });

  it('a configured memory_limit too small for the CPU is a misfit with the number to use', () => {
    const r = recommend(machine({}), config({ models: [{ name: 'phi3', repo: 'microsoft/Phi-3-medium-128k-instruct', memory_limit: '8g' }] }));
    expect(r.models[0]).toMatchObject({ fits: false, memoryLimit: '8g' });
    expect(r.advice.join('\n')).toContain('raise llm.models.0.memory_limit for phi3 to at least 15g');
  });

  it('disk too small for the downloads is said', () => {
    const r = recommend(machine({ diskFreeGiB: 10 }), config());
    expect(r.advice.join('\n')).toContain('free disk space at /opt/models');
  });
});

describe('forced choices', () => {
  it('cuda with no NVIDIA GPU is an error; the recommendation falls back to auto', () => {
    const problems = checkForcedChoices(machine({}), config({ device: 'cuda' }));
    expect(problems).toEqual([expect.objectContaining({ path: 'llm.device', severity: 'error' })]);
    expect(recommend(machine({}), config({ device: 'cuda' })).device).toBe('cpu');
    expect(() => assertForcedChoices(machine({}), config({ device: 'cuda' }))).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', exitCode: 3 }));
  });

  it('cuda on a GPU containers cannot reach names the toolkit fix', () => {
    const [p] = checkForcedChoices(machine({ gpus: nv('nvidia-smi-h100.csv') }), config({ device: 'cuda' }));
    expect(p).toMatchObject({ severity: 'error', hint: expect.stringContaining('nvidia-ctk runtime configure --runtime=docker') });
  });

  it('cuda with Docker down is only a warning: msting cannot tell', () => {
    const problems = checkForcedChoices(machine({ gpus: nv('nvidia-smi-h100.csv'), container: DOCKER_DOWN }), config({ device: 'cuda' }));
    expect(problems.map((p) => p.severity)).toEqual(['warning']);
    expect(recommend(machine({ gpus: nv('nvidia-smi-h100.csv'), container: DOCKER_DOWN }), config({ device: 'cuda' })).device).toBe('cuda');
  });

  it('bf16 on compute capability 7.5 is an error; fp16 is used', () => {
    const profile = machine({ gpus: nv('nvidia-smi-rtx2080.csv'), container: DOCKER_NVIDIA });
    expect(checkForcedChoices(profile, config({ precision: 'bf16' }))).toEqual([
      expect.objectContaining({ path: 'llm.precision', severity: 'error', message: expect.stringContaining('GPU 0 (NVIDIA GeForce RTX 2080) is 7.5') }),
    ]);
    expect(recommend(profile, config({ precision: 'bf16' })).precision).toBe('fp16');
  });

  it('mps off macOS is an error; on a Mac it is a warning about Docker Desktop', () => {
    expect(checkForcedChoices(machine({}), config({ device: 'mps' }))[0]).toMatchObject({ severity: 'error', message: expect.stringContaining('only on macOS') });
    const mac = machine({
      platform: 'darwin',
      arch: 'arm64',
      gpus: [{ vendor: 'apple', index: 0, name: 'Apple M3 GPU', uuid: null, memoryTotalMiB: 16384, memoryFreeMiB: null, computeCapability: null, driverVersion: null, source: 'apple', unifiedMemory: true }],
    });
    expect(checkForcedChoices(mac, config({ device: 'mps' }))[0]).toMatchObject({ severity: 'warning' });
    const r = recommend(mac, config({ device: 'mps' }));
    expect(r.device).toBe('mps');
    expect(r.budget).toMatchObject({ kind: 'unified', totalBytes: 16 * GiB });
  });

  it('rocm without /dev/kfd is an error', () => {
    const profile = machine({ gpus: parseRocmSmi(JSON.parse(fixture('rocm-smi-mi210.json'))) });
    expect(checkForcedChoices(profile, config({ device: 'rocm' }))[0]).toMatchObject({ severity: 'error', message: expect.stringContaining('/dev/kfd') });
  });

  it('a forced precision that makes a model miss says what int4 would need', () => {
    const r = recommend(machine({ gpus: nv('nvidia-smi-rtx3060.csv'), container: DOCKER_NVIDIA }), config({ precision: 'fp16' }));
    expect(r.models.find((m) => m.name === 'phi3')).toMatchObject({ fits: false, quantization: 'none' });
    expect(r.advice).toContain('phi3 is held at fp16 by llm.precision: fp16; at int4 it needs 7.9 GiB and fits (set llm.models.1.quantization: int4)');
  });

  it('a forced precision is used for every model, and a model quantization wins over it', () => {
    const profile = machine({ gpus: nv('nvidia-smi-h100.csv'), container: DOCKER_NVIDIA });
    const r = recommend(profile, config({ precision: 'int4', models: [{ name: 'phi3', repo: 'microsoft/Phi-3-medium-128k-instruct' }, { name: 'z', repo: 'HuggingFaceH4/zephyr-7b-beta', quantization: 'int8' }] }));
    expect(r.precision).toBe('int4');
    expect(r.models.map((m) => m.quantization)).toEqual(['int4', 'int8']);
    expect(checkForcedChoices(profile, config({ precision: 'int4' }))).toEqual([]);
  });

  it('auto everywhere: no problems', () => {
    expect(checkForcedChoices(machine({}), config())).toEqual([]);
  });
});
