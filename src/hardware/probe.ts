import { dirname, join } from 'node:path';
import { modelsDir } from '../layout.js';
import { cgroupLimitFiles, parseProcCgroup, tightestLimit } from './parse-cgroup.js';
import { countCpuinfo, parseCpuFlags } from './parse-cpu.js';
import { isAmdName, isNvidiaName, parseCdiSpecKinds, parseDockerInfo, type DockerInfo } from './parse-docker-info.js';
import { NVIDIA_QUERY_FIELDS, NVIDIA_QUERY_FIELDS_NO_CC, isUnknownFieldError, parseNvidiaSmi } from './parse-nvidia-smi.js';
import { parseRocmSmi } from './parse-rocm-smi.js';
import type { ContainerGpuPath, CpuInfo, DiskInfo, GpuInfo, GpuVendor, HardwareProblem, HardwareProfile, MemoryInfo } from './types.js';
import { GiB, MiB } from './units.js';

/** What running an outside command gave. Never an exception: each case is a value the probe reads. */
export type CommandOutcome =
  | { kind: 'ok'; stdout: string }
  /** The program is not installed (ENOENT). */
  | { kind: 'missing' }
  | { kind: 'timeout'; timeoutMs: number }
  /** It ran and failed; output is stdout and stderr together. */
  | { kind: 'failed'; exitCode: number | null; output: string; stdout: string };

/**
 * Everything the probe asks of the machine. The real one (system-probe.ts) uses execa, node:fs and
 * systeminformation; tests pass canned answers, so the whole probe runs against captured outputs.
 */
export interface ProbeDeps {
  platform: NodeJS.Platform;
  arch: string;
  /** Kernel (or Darwin) release. */
  release: string;
  env: NodeJS.ProcessEnv;
  /** The user's home directory (models go under it on macOS). */
  userHome: string;
  /** Run a program with arguments (no shell), stopping it after timeoutMs. */
  run(command: string, args: string[], timeoutMs: number): Promise<CommandOutcome>;
  /** A text file's contents; null when it is missing or unreadable. */
  readText(path: string): Promise<string | null>;
  /** Names in a directory; empty when it is missing or unreadable. */
  listDir(path: string): Promise<string[]>;
  exists(path: string): Promise<boolean>;
  /** Free and total bytes of the file system holding path; null when path does not exist. */
  statfs(path: string): Promise<{ freeBytes: number; totalBytes: number } | null>;
  /** CPU model and counts (systeminformation.cpu). */
  cpu(): Promise<{ model: string; cores: number; threads: number }>;
  /** Total and available RAM (systeminformation.mem). */
  mem(): Promise<{ totalBytes: number; availableBytes: number }>;
  /** Display controllers systeminformation knows of, the last resort for naming a GPU. */
  graphics(): Promise<{ vendor: string; model: string }[]>;
}

/** Time limits: nvidia-smi on a healthy driver answers in well under a second; a hung one never does. */
export const TIMEOUTS = { nvidiaSmi: 5000, rocmSmi: 5000, docker: 5000, sysctl: 2000 } as const;

export interface ProbeOptions {
  /** Skip the Docker probe (callers that know Docker is absent). */
  skipDocker?: boolean;
}

function firstLine(text: string): string {
  return text.split(/\r?\n/).map((l) => l.trim()).find((l) => l !== '') ?? '';
}

async function probeCpu(deps: ProbeDeps, problems: HardwareProblem[]): Promise<CpuInfo> {
  const flagsText =
    deps.platform === 'linux'
      ? deps.readText('/proc/cpuinfo')
      : deps.platform === 'darwin'
        ? deps.run('sysctl', ['-n', 'machdep.cpu.features', 'machdep.cpu.leaf7_features'], TIMEOUTS.sysctl).then((r) => (r.kind === 'ok' ? r.stdout : r.kind === 'failed' ? r.stdout : null))
        : Promise.resolve(null);
  const [basic, text] = await Promise.all([deps.cpu().catch(() => null), flagsText]);
  const counted = deps.platform === 'linux' && text !== null ? countCpuinfo(text) : null;
  if (basic === null) problems.push({ source: 'cpu', message: 'could not read the CPU model' });
  return {
    model: basic?.model || (text !== null ? (/^model name\s*:\s*(.+)$/m.exec(text)?.[1]?.trim() ?? 'unknown CPU') : 'unknown CPU'),
    cores: basic?.cores || counted?.cores || 0,
    threads: basic?.threads || counted?.threads || 0,
    arch: deps.arch,
    flags: parseCpuFlags(text ?? ''),
  };
}

async function probeMemory(deps: ProbeDeps, problems: HardwareProblem[]): Promise<MemoryInfo> {
  const mem = await deps.mem().catch(() => null);
  if (mem === null) problems.push({ source: 'memory', message: 'could not read the amount of RAM' });
  const total = mem?.totalBytes ?? 0;
  let limit: number | null = null;
  if (deps.platform === 'linux') {
    const proc = await deps.readText('/proc/self/cgroup');
    if (proc !== null) {
      const raws = await Promise.all(cgroupLimitFiles(parseProcCgroup(proc)).map((f) => deps.readText(f)));
      limit = tightestLimit(raws, total > 0 ? total : undefined);
    }
  }
  return { totalBytes: total, availableBytes: Math.min(mem?.availableBytes ?? 0, limit ?? Infinity), cgroupLimitBytes: limit };
}

async function probeNvidia(deps: ProbeDeps, problems: HardwareProblem[]): Promise<GpuInfo[]> {
  const query = (fields: readonly string[]): Promise<CommandOutcome> =>
    deps.run('nvidia-smi', [`--query-gpu=${fields.join(',')}`, '--format=csv,noheader,nounits'], TIMEOUTS.nvidiaSmi);
  let fields: readonly string[] = NVIDIA_QUERY_FIELDS;
  let r = await query(fields);
  if (r.kind === 'failed' && isUnknownFieldError(r.output)) {
    fields = NVIDIA_QUERY_FIELDS_NO_CC;
    r = await query(fields);
  }
  switch (r.kind) {
    case 'missing':
      return [];
    case 'timeout':
      problems.push({
        source: 'nvidia-smi',
        message: `nvidia-smi did not answer within ${r.timeoutMs / 1000} s`,
        hint: 'the NVIDIA driver may be hung: run `nvidia-smi` by hand, and reboot if it hangs there too',
      });
      return [];
    case 'failed': {
      const said = firstLine(r.output);
      if (/no devices were found/i.test(r.output)) {
        problems.push({ source: 'nvidia-smi', message: 'nvidia-smi is installed but finds no NVIDIA GPU', hint: 'check that the GPU is visible (`lspci | grep -i nvidia`); inside a container, start it with --gpus all' });
      } else {
        problems.push({
          source: 'nvidia-smi',
          message: `nvidia-smi failed (exit ${r.exitCode ?? '?'}): ${said || 'no output'}`,
          hint: /driver/i.test(r.output)
            ? 'the NVIDIA driver is not loaded or does not match the kernel: reinstall the driver, or reboot after a kernel update'
            : 'run `nvidia-smi` by hand to see what the driver says',
        });
      }
      return [];
    }
    case 'ok': {
      const parsed = parseNvidiaSmi(r.stdout, fields);
      if (parsed.unparsed.length > 0) problems.push({ source: 'nvidia-smi', message: `could not read nvidia-smi's line "${parsed.unparsed[0]}"` });
      return parsed.gpus;
    }
  }
}

/** AMD: rocm-smi when ROCm is installed, else the amdgpu driver's own sysfs files. */
async function probeAmd(deps: ProbeDeps, problems: HardwareProblem[]): Promise<GpuInfo[]> {
  if (deps.platform !== 'linux') return [];
  const r = await deps.run('rocm-smi', ['--showmeminfo', 'vram', '--showproductname', '--json'], TIMEOUTS.rocmSmi);
  if (r.kind === 'ok') {
    try {
      const gpus = parseRocmSmi(JSON.parse(r.stdout));
      if (gpus.length > 0) return gpus;
    } catch {
      problems.push({ source: 'rocm-smi', message: 'rocm-smi printed something other than JSON' });
    }
  } else if (r.kind === 'failed' || r.kind === 'timeout') {
    problems.push({
      source: 'rocm-smi',
      message: r.kind === 'timeout' ? `rocm-smi did not answer within ${r.timeoutMs / 1000} s` : `rocm-smi failed (exit ${r.exitCode ?? '?'}): ${firstLine(r.output) || 'no output'}`,
      hint: 'run `rocm-smi` by hand; msting falls back to the amdgpu driver files in /sys',
    });
  }
  return probeAmdSysfs(deps);
}

async function probeAmdSysfs(deps: ProbeDeps): Promise<GpuInfo[]> {
  const cards = (await deps.listDir('/sys/class/drm')).filter((n) => /^card\d+$/.test(n)).sort((a, b) => Number(a.slice(4)) - Number(b.slice(4)));
  const gpus: GpuInfo[] = [];
  for (const card of cards) {
    const dev = `/sys/class/drm/${card}/device`;
    const [vendor, total, used, product] = await Promise.all([
      deps.readText(`${dev}/vendor`),
      deps.readText(`${dev}/mem_info_vram_total`),
      deps.readText(`${dev}/mem_info_vram_used`),
      deps.readText(`${dev}/product_name`),
    ]);
    if (vendor?.trim() !== '0x1002' || total === null || !/^\d+$/.test(total.trim())) continue;
    const totalBytes = Number(total.trim());
    const usedBytes = used !== null && /^\d+$/.test(used.trim()) ? Number(used.trim()) : null;
    gpus.push({
      vendor: 'amd',
      index: gpus.length,
      name: product?.trim() || `AMD GPU (${card})`,
      uuid: null,
      memoryTotalMiB: Math.floor(totalBytes / MiB),
      memoryFreeMiB: usedBytes === null ? null : Math.floor((totalBytes - usedBytes) / MiB),
      computeCapability: null,
      driverVersion: null,
      source: 'sysfs',
      architecture: null,
    });
  }
  return gpus;
}

/**
 * Apple Silicon: the GPU shares RAM, and Metal lets it keep only part of it resident
 * (recommendedMaxWorkingSetSize). `iogpu.wired_limit_mb`, when an admin set it, is that part;
 * otherwise about two thirds of RAM up to 36 GiB and three quarters above.
 */
export function metalWorkingSetBytes(totalBytes: number, wiredLimitMb: number | null): number {
  if (wiredLimitMb !== null && wiredLimitMb > 0) return Math.min(totalBytes, wiredLimitMb * MiB);
  return Math.floor(totalBytes * (totalBytes <= 36 * GiB ? 2 / 3 : 3 / 4));
}

async function probeApple(deps: ProbeDeps, memTotal: number): Promise<GpuInfo[]> {
  if (deps.platform !== 'darwin' || deps.arch !== 'arm64') return [];
  const [brand, wired] = await Promise.all([
    deps.run('sysctl', ['-n', 'machdep.cpu.brand_string'], TIMEOUTS.sysctl),
    deps.run('sysctl', ['-n', 'iogpu.wired_limit_mb'], TIMEOUTS.sysctl),
  ]);
  const chip = brand.kind === 'ok' ? firstLine(brand.stdout) : 'Apple Silicon';
  const wiredMb = wired.kind === 'ok' && /^\d+$/.test(firstLine(wired.stdout)) ? Number(firstLine(wired.stdout)) : null;
  const share = metalWorkingSetBytes(memTotal, wiredMb);
  return [
    {
      vendor: 'apple',
      index: 0,
      name: `${chip} GPU`,
      uuid: null,
      memoryTotalMiB: Math.floor(share / MiB),
      memoryFreeMiB: null,
      computeCapability: null,
      driverVersion: null,
      source: 'apple',
      unifiedMemory: true,
    },
  ];
}

const PCI_VENDORS: Record<string, GpuVendor> = { '0x10de': 'nvidia', '0x1002': 'amd' };
/** Emulated and server-management display adapters are not GPUs a model can use. */
const NOT_A_GPU = /vmware|virtualbox|cirrus|qxl|red hat|bochs|virtio|aspeed|matrox|hyper-v|microsoft basic/i;

/** Name GPUs no driver tool answered for: the PCI vendor in sysfs, then systeminformation. */
async function nameUnprobedGpus(deps: ProbeDeps, problems: HardwareProblem[]): Promise<GpuInfo[]> {
  const found: GpuInfo[] = [];
  if (deps.platform === 'linux') {
    for (const card of (await deps.listDir('/sys/class/drm')).filter((n) => /^card\d+$/.test(n))) {
      const vendor = PCI_VENDORS[(await deps.readText(`/sys/class/drm/${card}/device/vendor`))?.trim() ?? ''];
      if (vendor === undefined) continue;
      found.push({
        vendor,
        index: found.length,
        name: vendor === 'nvidia' ? 'an NVIDIA GPU' : 'an AMD GPU',
        uuid: null,
        memoryTotalMiB: null,
        memoryFreeMiB: null,
        computeCapability: null,
        driverVersion: null,
        source: 'sysfs',
      });
    }
  }
  if (found.length === 0) {
    const controllers = await deps.graphics().catch(() => []);
    for (const c of controllers) {
      const label = `${c.vendor} ${c.model}`.trim();
      if (label === '' || NOT_A_GPU.test(label)) continue;
      const vendor: GpuVendor = /nvidia/i.test(label) ? 'nvidia' : /\bamd\b|\bati\b|radeon|advanced micro devices/i.test(label) ? 'amd' : /apple/i.test(label) ? 'apple' : 'other';
      if (vendor === 'apple') continue;
      found.push({ vendor, index: found.length, name: label, uuid: null, memoryTotalMiB: null, memoryFreeMiB: null, computeCapability: null, driverVersion: null, source: 'systeminformation' });
    }
  }
  if (found.some((g) => g.vendor === 'nvidia') && !problems.some((p) => p.source === 'nvidia-smi')) {
    problems.push({ source: 'nvidia-smi', message: 'an NVIDIA GPU is present, but nvidia-smi is not installed', hint: 'install the NVIDIA driver (nvidia-smi comes with it), then run `msting hardware` again' });
  }
  return found;
}

interface DockerProbe {
  container: ContainerGpuPath;
  info: DockerInfo | null;
}

function dockerFailure(r: Exclude<CommandOutcome, { kind: 'ok' }>): { error: string; hint: string } {
  if (r.kind === 'missing') return { error: 'the docker command is not installed', hint: 'install Docker Engine (or Docker Desktop) with Compose v2' };
  if (r.kind === 'timeout') return { error: `docker info did not answer within ${r.timeoutMs / 1000} s`, hint: 'check the Docker daemon: `systemctl status docker`' };
  if (/permission denied/i.test(r.output)) {
    return { error: 'permission denied on the Docker socket', hint: 'run msting with sudo, or add your user to the docker group (`sudo usermod -aG docker $USER`, then log in again)' };
  }
  if (/cannot connect|is the docker daemon running|connection refused|no such file/i.test(r.output)) {
    return { error: 'the Docker daemon is not running', hint: 'start it: `sudo systemctl start docker` (or open Docker Desktop)' };
  }
  const line = r.output.split(/\r?\n/).map((l) => l.trim()).find((l) => l !== '' && !l.startsWith('{')) ?? '';
  return { error: `docker info failed (exit ${r.exitCode ?? '?'})${line ? `: ${line}` : ''}`, hint: 'run `docker info` by hand' };
}

async function findOnPath(deps: ProbeDeps, program: string): Promise<boolean> {
  const dirs = new Set([...(deps.env.PATH ?? '').split(':').filter(Boolean), '/usr/bin', '/usr/local/bin']);
  const hits = await Promise.all([...dirs].map((d) => deps.exists(join(d, program))));
  return hits.some(Boolean);
}

async function probeDocker(deps: ProbeDeps, problems: HardwareProblem[]): Promise<DockerProbe> {
  const r = await deps.run('docker', ['info', '--format', '{{json .}}'], TIMEOUTS.docker);
  let info: DockerInfo | null = null;
  if (r.kind === 'ok') {
    try {
      info = parseDockerInfo(JSON.parse(r.stdout));
    } catch {
      info = null;
    }
  }
  if (info === null || info.serverErrors.length > 0 || info.serverVersion === null) {
    const failure =
      r.kind !== 'ok'
        ? dockerFailure(r)
        : info !== null && info.serverErrors.length > 0
          ? dockerFailure({ kind: 'failed', exitCode: 0, output: info.serverErrors.join('\n'), stdout: '' })
          : { error: 'docker info printed something msting cannot read', hint: 'run `docker info` by hand' };
    problems.push({ source: 'docker', message: `Docker is not reachable: ${failure.error}`, hint: failure.hint });
    return {
      container: { dockerReachable: false, runtimes: [], nvidiaRuntime: false, cdi: false, error: failure.error, cdiDevices: [], rootDir: null, memTotalBytes: null, serverVersion: null },
      info: null,
    };
  }
  // CDI: devices the engine lists itself (28.3+), else the kinds declared by spec files in its spec dirs.
  let cdiDevices = info.cdiDevices;
  if (cdiDevices.length === 0 && info.cdiSpecDirs.length > 0) {
    const kinds = new Set<string>();
    for (const dir of info.cdiSpecDirs) {
      for (const file of (await deps.listDir(dir)).filter((f) => /\.(ya?ml|json)$/i.test(f))) {
        for (const k of parseCdiSpecKinds((await deps.readText(join(dir, file))) ?? '')) kinds.add(k);
      }
    }
    cdiDevices = [...kinds].sort();
  }
  const local = deps.platform === 'linux';
  const [hook, kfd] = await Promise.all([local ? findOnPath(deps, 'nvidia-container-runtime-hook') : false, local ? deps.exists('/dev/kfd') : false]);
  return {
    container: {
      dockerReachable: true,
      runtimes: info.runtimes,
      nvidiaRuntime: info.runtimes.some(isNvidiaName),
      cdi: cdiDevices.some((d) => isNvidiaName(d) || isAmdName(d)),
      cdiDevices,
      nvidiaHook: hook,
      amdDevices: kfd,
      rootDir: info.dockerRootDir,
      memTotalBytes: info.memTotalBytes,
      serverVersion: info.serverVersion,
    },
    info,
  };
}

/** Free space where path will live: the nearest directory that exists on the way up. */
async function diskAt(deps: ProbeDeps, path: string): Promise<DiskInfo | null> {
  let p = path;
  for (;;) {
    const s = await deps.statfs(p);
    if (s !== null) return { path, freeBytes: s.freeBytes, totalBytes: s.totalBytes };
    const up = dirname(p);
    if (up === p) return null;
    p = up;
  }
}

/**
 * Find out what this machine offers the model services. Every probe runs at once and none throws:
 * what could not be found is null or empty, and what went wrong is listed in `problems`.
 */
export async function probeHardware(deps: ProbeDeps, options: ProbeOptions = {}): Promise<HardwareProfile> {
  const problems: HardwareProblem[] = [];
  // Outside programs first: they run in their own processes while the rest is read here.
  const nvidiaP = probeNvidia(deps, problems);
  const amdP = probeAmd(deps, problems);
  const dockerP: Promise<DockerProbe> = options.skipDocker
    ? Promise.resolve({ container: { dockerReachable: false, runtimes: [], nvidiaRuntime: false, cdi: false, error: 'not probed' }, info: null })
    : probeDocker(deps, problems);
  const [nvidia, amd, docker, cpu, memory] = await Promise.all([nvidiaP, amdP, dockerP, probeCpu(deps, problems), probeMemory(deps, problems)]);
  let gpus: GpuInfo[] = [...nvidia, ...amd];
  if (gpus.length === 0) gpus = await probeApple(deps, memory.totalBytes);
  if (gpus.length === 0) gpus = await nameUnprobedGpus(deps, problems);

  const models = await diskAt(deps, modelsDir(deps.env, deps.platform, deps.userHome));
  const root = docker.container.rootDir;
  // Under Docker Desktop the data root lives inside the VM: no such path on this host.
  const dockerRoot = root && deps.platform === 'linux' ? await deps.statfs(root).then((s) => (s === null ? null : { path: root, ...s })) : null;
  if (models === null) problems.push({ source: 'disk', message: 'could not read the free space where models go' });

  return {
    os: { platform: deps.platform, release: deps.release, arch: deps.arch },
    cpu,
    memory,
    gpus,
    container: docker.container,
    disks: { models, dockerRoot },
    problems,
  };
}
