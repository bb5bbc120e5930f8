import { constants } from 'node:fs';
import { access, statfs } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { dirname } from 'node:path';
import { runScratchScript } from '../docker/cli.js';
import type { ComposeCli } from '../docker/compose-cli.js';
import type { DockerEngine } from '../docker/engine.js';
import { isMstingError } from '../errors.js';
import { parseCgroupLimit } from '../hardware/parse-cgroup.js';
import { parseDockerInfo } from '../hardware/parse-docker-info.js';
import type { PortReport } from '../lifecycle/ports.js';
import type { DockerResources, PreflightFacts, Probe } from './checks.js';

/**
 * Gathers the facts preflight judges, from the real machine. Each probe catches its own failure
 * and turns it into a fact, so one broken probe never hides the others.
 */

export interface GatherInput {
  profile: string;
  runsModels: boolean;
  force: boolean;
  home: string;
  env: NodeJS.ProcessEnv;
  engine: DockerEngine;
  compose: ComposeCli;
  /** The plan's images in order of preference for the in-container measurement (small first). */
  probeImages: string[];
  /** Port check (src/lifecycle), run once the engine answers. */
  ports: () => Promise<PortReport>;
  signal?: AbortSignal;
}

async function probe<T>(fn: () => Promise<T>): Promise<Probe<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (err) {
    if (isMstingError(err)) return { ok: false, message: err.message, hint: err.hint ?? null };
    return { ok: false, message: err instanceof Error ? err.message : String(err), hint: null };
  }
}

/** The nearest existing directory at or above `path`. */
async function existingAncestor(path: string): Promise<string> {
  let p = path;
  for (;;) {
    try {
      await access(p, constants.F_OK);
      return p;
    } catch {
      const parent = dirname(p);
      if (parent === p) return p;
      p = parent;
    }
  }
}

export async function installDirFact(home: string): Promise<Probe<{ path: string; freeBytes: number | null }>> {
  const at = await existingAncestor(home);
  try {
    await access(at, constants.W_OK);
  } catch {
    const isRoot = process.getuid?.() === 0;
    return {
      ok: false,
      message: `cannot write ${home}${at !== home ? ` (${at} is not writable)` : ''}`,
      hint: isRoot ? `check the permissions of ${at}` : `run with sudo (sudo msting install), or choose a directory you own: msting install --home ~/.sting-ce`,
    };
  }
  let freeBytes: number | null = null;
  try {
    const s = await statfs(at);
    freeBytes = s.bavail * s.bsize;
  } catch {
    freeBytes = null;
  }
  return { ok: true, value: { path: home, freeBytes } };
}

/** The script run inside the probe container: CPUs and memory as the container sees them. */
export const RESOURCE_SCRIPT = [
  'echo "nproc=$(nproc 2>/dev/null || grep -c ^processor /proc/cpuinfo)"',
  'echo "memtotal=$(awk \'/^MemTotal:/ {print $2}\' /proc/meminfo 2>/dev/null || sed -n \'s/^MemTotal: *\\([0-9]*\\).*/\\1/p\' /proc/meminfo)"',
  'echo "memmax=$(cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null)"',
  'echo "cpumax=$(cat /sys/fs/cgroup/cpu.max 2>/dev/null)"',
].join('; ');

/** Parse the probe container's output into CPUs and memory bytes. */
export function parseResourceProbe(text: string): { cpus: number | null; memoryBytes: number | null } {
  const get = (k: string) => new RegExp(`^${k}=(.*)$`, 'm').exec(text)?.[1]?.trim() ?? '';
  const nproc = Number.parseInt(get('nproc'), 10);
  const memKb = Number.parseInt(get('memtotal'), 10);
  const memTotal = Number.isFinite(memKb) && memKb > 0 ? memKb * 1024 : null;
  const limit = parseCgroupLimit(get('memmax'), memTotal ?? undefined);
  const cpuMax = /^(\d+)\s+(\d+)$/.exec(get('cpumax'));
  const quota = cpuMax ? Number(cpuMax[1]) / Number(cpuMax[2]) : null;
  let cpusValue = Number.isFinite(nproc) && nproc > 0 ? nproc : null;
  if (quota !== null && (cpusValue === null || quota < cpusValue)) cpusValue = Math.max(1, Math.floor(quota));
  const memoryBytes = limit !== null && (memTotal === null || limit < memTotal) ? limit : memTotal;
  return { cpus: cpusValue, memoryBytes };
}

/**
 * CPUs and memory Docker can give a container: `docker info` first (cheap), then, when an image
 * of the stack is already on this machine, measured inside a throwaway container of it (no pull,
 * no network): Docker Desktop's VM and cgroup limits show there, not on the host.
 */
export async function measureDockerResources(input: Pick<GatherInput, 'engine' | 'env' | 'probeImages' | 'signal'>): Promise<{ resources: DockerResources | null; note: string | null; rootDir: string | null }> {
  let resources: DockerResources | null = null;
  let rootDir: string | null = null;
  try {
    const info = parseDockerInfo(await input.engine.info());
    rootDir = info.dockerRootDir;
    if (info.ncpu !== null || info.memTotalBytes !== null) resources = { source: 'docker-info', cpus: info.ncpu, memoryBytes: info.memTotalBytes };
  } catch {
    // The container measurement below may still answer.
  }
  let image: string | undefined;
  for (const candidate of input.probeImages) {
    if (await input.engine.imagePresent(candidate).catch(() => false)) {
      image = candidate;
      break;
    }
  }
  if (!image) return { resources, note: 'no image of the stack is on this machine yet, so the in-container measurement was skipped', rootDir };
  const run = await runScratchScript(image, RESOURCE_SCRIPT, { env: input.env, timeoutMs: 60_000, signal: input.signal });
  if (run.failed) return { resources, note: `the measurement in ${image} failed (${run.stderr.trim().split('\n').at(-1) ?? `exit ${run.exitCode}`})`, rootDir };
  const measured = parseResourceProbe(run.stdout);
  if (measured.cpus === null && measured.memoryBytes === null) return { resources, note: `the measurement in ${image} printed nothing usable`, rootDir };
  return { resources: { source: 'container', cpus: measured.cpus ?? resources?.cpus ?? null, memoryBytes: measured.memoryBytes ?? resources?.memoryBytes ?? null, image }, note: null, rootDir };
}

export async function gatherPreflight(input: GatherInput): Promise<PreflightFacts> {
  const [engine, compose, installDir] = await Promise.all([
    probe(() => input.engine.ping()),
    probe(async () => ({ version: await input.compose.version() })),
    installDirFact(input.home),
  ]);
  let dockerResources: DockerResources | null = null;
  let note: string | null = null;
  let dockerDisk: PreflightFacts['dockerDisk'] = null;
  let ports: PortReport | null = null;
  if (engine.ok) {
    const measured = await measureDockerResources(input);
    dockerResources = measured.resources;
    note = measured.note;
    const local = input.engine.endpoint.kind === 'unix';
    if (local && measured.rootDir) {
      try {
        const s = await statfs(measured.rootDir);
        dockerDisk = { path: measured.rootDir, freeBytes: s.bavail * s.bsize };
      } catch {
        dockerDisk = null;
      }
    }
    ports = await input.ports().catch(() => null);
  }
  return {
    profile: input.profile,
    runsModels: input.runsModels,
    force: input.force,
    engine: engine.ok ? { ok: true, value: { version: engine.value.version } } : engine,
    compose,
    host: { memoryBytes: totalmem(), cpus: cpus().length },
    dockerResources,
    dockerResourcesNote: note,
    installDir,
    dockerDisk,
    ports,
  };
}
