import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CommandOutcome, ProbeDeps } from '../../../src/hardware/probe.js';

const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures', 'hardware');

export function fixture(name: string): string {
  return readFileSync(join(FIXTURES, name), 'utf8');
}

export const GiB = 2 ** 30;

/** A machine described by canned answers: what each program prints, which files exist. */
export interface FakeMachine {
  platform?: NodeJS.Platform;
  arch?: string;
  env?: NodeJS.ProcessEnv;
  /** Keyed by program name; absent programs are "not installed". */
  commands?: Record<string, CommandOutcome | ((args: string[]) => CommandOutcome)>;
  files?: Record<string, string>;
  dirs?: Record<string, string[]>;
  /** Paths that exist (besides files and dirs). */
  paths?: string[];
  /** Mounted file systems: the longest prefix of a path answers statfs. */
  mounts?: Record<string, { freeBytes: number; totalBytes: number }>;
  cpu?: { model: string; cores: number; threads: number } | 'fail';
  mem?: { totalBytes: number; availableBytes: number };
  graphics?: { vendor: string; model: string }[];
}

export function ok(stdout: string): CommandOutcome {
  return { kind: 'ok', stdout };
}

export function failed(exitCode: number, output: string): CommandOutcome {
  return { kind: 'failed', exitCode, output, stdout: '' };
}

/** The programs and files a machine's probe reads; records what was run. */
export function fakeDeps(m: FakeMachine): ProbeDeps & { calls: string[] } {
  const calls: string[] = [];
  const files = m.files ?? {};
  const dirs = m.dirs ?? {};
  const exists = (p: string): boolean => p in files || p in dirs || (m.paths ?? []).includes(p) || Object.keys(m.mounts ?? {}).includes(p);
  return {
    calls,
    platform: m.platform ?? 'linux',
    arch: m.arch ?? 'x64',
    release: '6.8.0-45-generic',
    env: m.env ?? { PATH: '/usr/local/bin:/usr/bin:/bin' },
    userHome: '/home/op',
    run: async (command, args) => {
      calls.push([command, ...args].join(' '));
      const answer = m.commands?.[command];
      if (answer === undefined) return { kind: 'missing' };
      return typeof answer === 'function' ? answer(args) : answer;
    },
    readText: async (p) => files[p] ?? null,
    listDir: async (p) => dirs[p] ?? [],
    exists: async (p) => exists(p),
    statfs: async (p) => {
      if (!exists(p)) return null;
      const mount = Object.keys(m.mounts ?? {})
        .filter((k) => p === k || p.startsWith(k.endsWith('/') ? k : `${k}/`))
        .sort((a, b) => b.length - a.length)[0];
      return mount === undefined ? null : m.mounts![mount]!;
    },
    cpu: async () => {
      if (m.cpu === 'fail') throw new Error('no cpu');
      return m.cpu ?? { model: 'AMD EPYC 9454', cores: 48, threads: 96 };
    },
    mem: async () => m.mem ?? { totalBytes: 64 * GiB, availableBytes: 60 * GiB },
    graphics: async () => m.graphics ?? [],
  };
}

/** A Linux server: root file system with room, Docker reachable with only runc. */
export function linuxServer(extra: FakeMachine = {}): FakeMachine {
  return {
    platform: 'linux',
    files: { '/proc/cpuinfo': fixture('cpuinfo-epyc-zen4.txt'), '/proc/self/cgroup': '0::/user.slice/user-1000.slice/session-3.scope\n', ...(extra.files ?? {}) },
    dirs: { '/': [], '/opt': [], '/var/lib/docker': [], ...(extra.dirs ?? {}) },
    mounts: { '/': { freeBytes: 400 * GiB, totalBytes: 1000 * GiB }, ...(extra.mounts ?? {}) },
    commands: { docker: ok(fixture('docker-info-runc.json')), ...(extra.commands ?? {}) },
    ...Object.fromEntries(Object.entries(extra).filter(([k]) => !['files', 'dirs', 'mounts', 'commands'].includes(k))),
  };
}
