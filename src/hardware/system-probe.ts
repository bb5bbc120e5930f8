import { constants } from 'node:fs';
import { access, readFile, readdir, statfs } from 'node:fs/promises';
import { arch, homedir, platform, release } from 'node:os';
import type { CommandOutcome, ProbeDeps } from './probe.js';

/**
 * The real machine behind ProbeDeps: programs through execa (asynchronous, no shell, with a time
 * limit), files through node:fs, CPU/RAM/display names through systeminformation. Reads only:
 * nothing here writes a file.
 *
 * execa and systeminformation are imported on first use, execa first: the probe spawns
 * nvidia-smi, rocm-smi and docker before anything else, so those run while the rest loads.
 */

type Execa = typeof import('execa').execa;
type Si = typeof import('systeminformation');
let execaP: Promise<Execa> | undefined;
let siP: Promise<Si> | undefined;
const loadExeca = (): Promise<Execa> => (execaP ??= import('execa').then((m) => m.execa));
const loadSi = (): Promise<Si> => (siP ??= import('systeminformation').then((m) => (m as { default?: Si }).default ?? (m as unknown as Si)));

async function run(env: NodeJS.ProcessEnv, command: string, args: string[], timeoutMs: number): Promise<CommandOutcome> {
  const execa = await loadExeca();
  const r = await execa(command, args, { reject: false, timeout: timeoutMs, all: true, stdin: 'ignore', env: { ...env, LC_ALL: 'C' }, extendEnv: false });
  if (r.timedOut) return { kind: 'timeout', timeoutMs };
  if ((r as { code?: string }).code === 'ENOENT') return { kind: 'missing' };
  if (r.failed) return { kind: 'failed', exitCode: r.exitCode ?? null, output: String(r.all ?? ''), stdout: String(r.stdout ?? '') };
  return { kind: 'ok', stdout: String(r.stdout) };
}

/** systeminformation calls can shell out; a slow one must not hold up `msting hardware`. */
function within<T>(p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms).unref())]);
}

export function createSystemProbeDeps(env: NodeJS.ProcessEnv = process.env): ProbeDeps {
  void loadExeca();
  return {
    platform: platform(),
    arch: arch(),
    release: release(),
    env,
    userHome: homedir(),
    run: (command, args, timeoutMs) => run(env, command, args, timeoutMs),
    readText: (path) => readFile(path, 'utf8').catch(() => null),
    listDir: (path) => readdir(path).catch(() => []),
    exists: (path) =>
      access(path, constants.F_OK).then(
        () => true,
        () => false,
      ),
    statfs: (path) =>
      statfs(path).then(
        (s) => ({ freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize }),
        () => null,
      ),
    cpu: async () => {
      const si = await loadSi();
      const c = await within(si.cpu(), 3000);
      return { model: [c.manufacturer, c.brand].filter(Boolean).join(' ').trim(), cores: c.physicalCores, threads: c.cores };
    },
    mem: async () => {
      const si = await loadSi();
      const m = await within(si.mem(), 3000);
      return { totalBytes: m.total, availableBytes: m.available };
    },
    graphics: async () => {
      const si = await loadSi();
      const g = await within(si.graphics(), 3000);
      return g.controllers.map((c) => ({ vendor: c.vendor ?? '', model: c.model ?? '' }));
    },
  };
}
