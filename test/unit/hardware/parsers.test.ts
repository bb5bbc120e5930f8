import { describe, expect, it } from 'vitest';
import { cgroupLimitFiles, parseCgroupLimit, parseProcCgroup, tightestLimit } from '../../../src/hardware/parse-cgroup.js';
import { countCpuinfo, parseCpuFlags } from '../../../src/hardware/parse-cpu.js';
import { parseCdiSpecKinds, parseDockerInfo } from '../../../src/hardware/parse-docker-info.js';
import { NVIDIA_QUERY_FIELDS_NO_CC, computeCapabilityAtLeast, isUnknownFieldError, parseNvidiaSmi } from '../../../src/hardware/parse-nvidia-smi.js';
import { parseRocmSmi } from '../../../src/hardware/parse-rocm-smi.js';
import { guessParametersB } from '../../../src/hardware/sizing.js';
import { parseMemorySize } from '../../../src/hardware/units.js';
import { fixture } from './fake-machine.js';

describe('parseNvidiaSmi', () => {
  // The second is a real capture with the query msting sends (driver 580.159.04, CUDA 13.0, 480 MiB
  // reserved by the driver, MIG off); only its UUID is anonymized.
  it.each([
    ['nvidia-smi-h100.csv', 'GPU-6e1b2f0c-5d1a-8f3e-2c44-9a0b7d3e5f11', 81003, '550.54.15'],
    ['nvidia-smi-h100-driver580.csv', 'GPU-00000000-1111-2222-3333-000000000580', 81079, '580.159.04'],
  ])('reads an H100 (%s): memory in MiB, compute capability, driver, uuid', (file, uuid, memoryFreeMiB, driverVersion) => {
    const { gpus, unparsed } = parseNvidiaSmi(fixture(file));
    expect(unparsed).toEqual([]);
    expect(gpus).toEqual([
      { vendor: 'nvidia', index: 0, name: 'NVIDIA H100 80GB HBM3', uuid, memoryTotalMiB: 81559, memoryFreeMiB, computeCapability: '9.0', driverVersion, source: 'nvidia-smi' },
    ]);
  });

  it('reads consumer cards with their compute capability', () => {
    expect(parseNvidiaSmi(fixture('nvidia-smi-rtx3060.csv')).gpus[0]).toMatchObject({ name: 'NVIDIA GeForce RTX 3060', memoryTotalMiB: 12288, computeCapability: '8.6' });
    expect(parseNvidiaSmi(fixture('nvidia-smi-rtx2080.csv')).gpus[0]).toMatchObject({ name: 'NVIDIA GeForce RTX 2080', memoryTotalMiB: 8192, computeCapability: '7.5' });
  });

  it('reads several GPUs, each with its own free memory', () => {
    const { gpus } = parseNvidiaSmi(fixture('nvidia-smi-4x-a100.csv'));
    expect(gpus.map((g) => g.index)).toEqual([0, 1, 2, 3]);
    expect(gpus.map((g) => g.memoryFreeMiB)).toEqual([81069, 81069, 52311, 81069]);
    const mixed = parseNvidiaSmi(fixture('nvidia-smi-mixed.csv')).gpus;
    expect(mixed.map((g) => g.computeCapability)).toEqual(['8.9', '7.5']);
  });

  it('turns [N/A] into unknown (not zero) and marks a GB10 as unified memory', () => {
    const [gpu] = parseNvidiaSmi(fixture('nvidia-smi-gb10-na.csv')).gpus;
    expect(gpu).toMatchObject({ name: 'NVIDIA GB10', memoryTotalMiB: null, memoryFreeMiB: null, computeCapability: '12.1', unifiedMemory: true });
  });

  it('turns [Not Supported] into unknown without calling the GPU unified', () => {
    const [gpu] = parseNvidiaSmi(fixture('nvidia-smi-vgpu-not-supported.csv')).gpus;
    expect(gpu).toMatchObject({ memoryTotalMiB: 16384, memoryFreeMiB: null });
    expect(gpu!.unifiedMemory).toBeUndefined();
  });

  it('reads the output of an old driver asked without compute_cap', () => {
    expect(isUnknownFieldError(fixture('nvidia-smi-unknown-field.txt'))).toBe(true);
    const [gpu] = parseNvidiaSmi(fixture('nvidia-smi-v100-old-driver.csv'), NVIDIA_QUERY_FIELDS_NO_CC).gpus;
    expect(gpu).toMatchObject({ name: 'Tesla V100-PCIE-16GB', memoryTotalMiB: 16160, computeCapability: null, driverVersion: '450.80.02' });
  });

  it('keeps lines it cannot read aside instead of inventing GPUs', () => {
    const r = parseNvidiaSmi('0, GPU-x, NVIDIA A10\n\n');
    expect(r.gpus).toEqual([]);
    expect(r.unparsed).toEqual(['0, GPU-x, NVIDIA A10']);
    expect(parseNvidiaSmi('').gpus).toEqual([]);
  });

  it('compares compute capabilities as versions', () => {
    expect(computeCapabilityAtLeast('8.0', 8)).toBe(true);
    expect(computeCapabilityAtLeast('7.5', 8)).toBe(false);
    expect(computeCapabilityAtLeast('12.1', 8)).toBe(true);
    expect(computeCapabilityAtLeast('8.10', 8, 9)).toBe(true);
  });
});

describe('parseRocmSmi', () => {
  it('reads MI210s: bytes to MiB, used to free, series name and gfx target', () => {
    const gpus = parseRocmSmi(JSON.parse(fixture('rocm-smi-mi210.json')));
    expect(gpus).toHaveLength(2);
    expect(gpus[0]).toMatchObject({ vendor: 'amd', index: 0, name: 'AMD Instinct MI210', memoryTotalMiB: 65520, memoryFreeMiB: 65509, architecture: 'gfx90a', source: 'rocm-smi' });
  });

  it('reads ROCm 5 key spellings and ignores the "system" entry', () => {
    const gpus = parseRocmSmi(JSON.parse(fixture('rocm-smi-rx7900xtx-rocm5.json')));
    expect(gpus).toHaveLength(1);
    expect(gpus[0]).toMatchObject({ name: 'Navi 31 [Radeon RX 7900 XT/7900 XTX]', memoryTotalMiB: 24560, memoryFreeMiB: 23152 });
  });

  it('gives nothing for something that is not rocm-smi JSON', () => {
    expect(parseRocmSmi(null)).toEqual([]);
    expect(parseRocmSmi(['card0'])).toEqual([]);
  });
});

describe('parseDockerInfo', () => {
  it('reads a plain engine: runc only, data root, memory', () => {
    const info = parseDockerInfo(JSON.parse(fixture('docker-info-runc.json')));
    expect(info.runtimes).toEqual(['io.containerd.runc.v2', 'io.containerd.runtime.v1.linux', 'runc']);
    expect(info.dockerRootDir).toBe('/var/lib/docker');
    expect(info.serverVersion).toBe('20.10.24+dfsg1');
    expect(info.cdiDevices).toEqual([]);
    expect(info.memTotalBytes).toBeGreaterThan(0);
  });

  it('sees the nvidia runtime', () => {
    expect(parseDockerInfo(JSON.parse(fixture('docker-info-nvidia-runtime.json'))).runtimes).toContain('nvidia');
  });

  it('reads CDI spec dirs and the devices the engine discovered', () => {
    const info = parseDockerInfo(JSON.parse(fixture('docker-info-cdi.json')));
    expect(info.cdiSpecDirs).toEqual(['/etc/cdi', '/var/run/cdi']);
    expect(info.cdiDevices).toContain('nvidia.com/gpu=0');
  });

  it('reports the server errors of a daemon that is down', () => {
    const info = parseDockerInfo(JSON.parse(fixture('docker-info-daemon-down.json')));
    expect(info.serverVersion).toBeNull();
    expect(info.runtimes).toEqual([]);
  });

  it('finds device kinds in CDI spec files, YAML or JSON', () => {
    expect(parseCdiSpecKinds('cdiVersion: 0.5.0\nkind: nvidia.com/gpu\ndevices:\n- name: "0"\n')).toEqual(['nvidia.com/gpu']);
    expect(parseCdiSpecKinds('{"cdiVersion":"0.6.0","kind":"amd.com/gpu","devices":[]}')).toEqual(['amd.com/gpu']);
  });
});

describe('parseCpuFlags', () => {
  it('reads AVX-512 BF16 and VNNI on a Zen 4 EPYC, and counts cores', () => {
    const text = fixture('cpuinfo-epyc-zen4.txt');
    expect(parseCpuFlags(text)).toEqual({ avx2: true, avx512: true, avx512bf16: true, avx512vnni: true, amx: false });
    expect(countCpuinfo(text)).toEqual({ threads: 2, cores: 2 });
  });

  it('reads AMX on Sapphire Rapids; two threads on one core', () => {
    const text = fixture('cpuinfo-sapphire-rapids.txt');
    expect(parseCpuFlags(text).amx).toBe(true);
    expect(countCpuinfo(text)).toEqual({ threads: 2, cores: 1 });
  });

  it('sees an old Xeon without AVX2', () => {
    expect(parseCpuFlags(fixture('cpuinfo-westmere.txt'))).toEqual({ avx2: false, avx512: false, avx512bf16: false, avx512vnni: false, amx: false });
  });

  it('reads macOS sysctl feature words', () => {
    expect(parseCpuFlags(fixture('sysctl-intel-mac-features.txt'))).toMatchObject({ avx2: true, avx512: false });
  });

  it('finds no x86 flags on ARM', () => {
    expect(parseCpuFlags(fixture('cpuinfo-graviton3.txt'))).toEqual({ avx2: false, avx512: false, avx512bf16: false, avx512vnni: false, amx: false });
  });
});

describe('cgroup limits', () => {
  it('treats "max" and v1 unlimited as no limit', () => {
    expect(parseCgroupLimit('max\n')).toBeNull();
    expect(parseCgroupLimit('9223372036854771712\n')).toBeNull();
    expect(parseCgroupLimit('8589934592\n')).toBe(8 * 2 ** 30);
  });

  it('ignores a limit at or above the host total', () => {
    expect(parseCgroupLimit('68719476736', 64 * 2 ** 30)).toBeNull();
    expect(parseCgroupLimit('4294967296', 64 * 2 ** 30)).toBe(4 * 2 ** 30);
  });

  it('finds the v2 path and the v1 memory controller path', () => {
    expect(parseProcCgroup(fixture('cgroup-v2-container.txt'))).toEqual({ v2: '/', v1Memory: null });
    expect(parseProcCgroup(fixture('cgroup-v1-host.txt'))).toEqual({ v2: '/', v1Memory: '/process_api/0a58ddefc114d7718a6ed3a2fe220ce0' });
  });

  it('checks the cgroup and each parent up to the root', () => {
    expect(cgroupLimitFiles(parseProcCgroup(fixture('cgroup-v2-systemd-service.txt')))).toEqual([
      '/sys/fs/cgroup/system.slice/sting-ce.service/memory.max',
      '/sys/fs/cgroup/system.slice/memory.max',
      '/sys/fs/cgroup/memory.max',
    ]);
    expect(tightestLimit(['max', '17179869184', null, '8589934592'])).toBe(8 * 2 ** 30);
    expect(tightestLimit([null, 'max'])).toBeNull();
  });
});

describe('model sizes', () => {
  it.each([
    [{ name: 'llama3', repo: 'meta-llama/Llama-3.1-8B' }, 8],
    [{ name: 'zephyr', repo: 'HuggingFaceH4/zephyr-7b-beta' }, 7],
    [{ name: 'qwen', repo: 'Qwen/Qwen2.5-1.5B-Instruct' }, 1.5],
    [{ name: 'phi3', repo: 'microsoft/Phi-3-medium-128k-instruct' }, 14],
    [{ name: 'phi3mini', repo: 'microsoft/Phi-3-mini-4k-instruct' }, 3.8],
    [{ name: 'mixtral', repo: 'mistralai/Mixtral-8x7B-Instruct-v0.1' }, 56],
    [{ name: 'gpt2', repo: 'openai-community/gpt2-355M' }, 0.355],
    [{ name: 'tiny', repo: 'TinyLlama/TinyLlama-1.1B-Chat-v1.0' }, 1.1],
  ])('guesses %o as %sB', (model, b) => {
    expect(guessParametersB(model)).toEqual({ value: b, source: 'name' });
  });

  it('prefers parameters_b, and admits when nothing says', () => {
    expect(guessParametersB({ name: 'x', repo: 'org/x-7b', parameters_b: 6.7 })).toEqual({ value: 6.7, source: 'config' });
    expect(guessParametersB({ name: 'chat', repo: 'org/mystery-model' })).toEqual({ value: null, source: 'unknown' });
  });

  it('reads memory sizes as config.yml writes them', () => {
    expect(parseMemorySize('512m')).toBe(512 * 2 ** 20);
    expect(parseMemorySize('2GiB')).toBe(2 * 2 ** 30);
    expect(parseMemorySize('16g')).toBe(16 * 2 ** 30);
    expect(parseMemorySize('lots')).toBeNull();
  });
});
