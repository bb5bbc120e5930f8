/**
 * What tests that need a Docker engine share: whether one answers (decided once by
 * test/support/docker-global-setup.ts for the integration project), the local test images, and
 * helpers to run the built CLI and to find or remove a compose project's resources.
 *
 *   import { describeDocker, testImages } from '../../support/docker.js';
 *   describeDocker('my feature', () => { ... });   // skipped, with the reason, when no engine
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, inject } from 'vitest';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = join(ROOT, 'bin', 'msting.js');

export interface TestImages {
  /** Stand-in services: answers the stack's health checks (test/images/busybox). */
  busybox: string;
  /** Real PostgreSQL 15, Redis 7 and nginx (test/images/debian). */
  debian: string;
  /** Python 3 with the Debian packages STING-CE's chatbot and messaging service import (test/images/sting-python). */
  stingPython: string;
  /** The Vault emulator (test/vault-emulator/build-image.sh). */
  vault: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    /** Null when an engine answers; otherwise why Docker tests are skipped. */
    dockerSkipReason: string | null;
    dockerImages: TestImages | null;
  }
}

/** Why Docker tests are skipped here, or null when an engine answers. */
export function dockerSkipReason(): string | null {
  try {
    return inject('dockerSkipReason');
  } catch {
    return 'the Docker global setup did not run (run through the vitest "integration" project)';
  }
}

/** The local test images; only call inside a describeDocker block. */
export function testImages(): TestImages {
  const images = inject('dockerImages');
  if (!images) throw new Error(`no test images: ${dockerSkipReason() ?? 'unknown reason'}`);
  return images;
}

/** A describe block that runs only when a Docker engine answers (skipped with the reason otherwise). */
export function describeDocker(name: string, fn: () => void): void {
  const reason = dockerSkipReason();
  describe.skipIf(reason !== null)(reason === null ? name : `${name} (skipped: ${reason})`, fn);
}

/** A compose project name no other test run uses. */
export function uniqueProject(prefix: string): string {
  return `${prefix}-${process.pid}-${Math.random().toString(36).slice(2, 7)}`.toLowerCase();
}

/**
 * Integration files run two at a time (vitest.config.ts). Each worker has its own range of host
 * ports, so two files running side by side never pick the same one; the ranges lie below the
 * kernel's ephemeral ports (32768 and up), which outgoing connections take.
 */
const PORTS_FROM = 20_000;
const PORTS_PER_WORKER = 3_000;
const PORT_RANGES = 4;

/** This worker's host ports: [first, end). VITEST_POOL_ID numbers the workers from 1. */
export function workerPortRange(poolId = process.env.VITEST_POOL_ID): { first: number; end: number } {
  const id = Number(poolId);
  const slot = Number.isInteger(id) && id >= 1 ? (id - 1) % PORT_RANGES : 0;
  const first = PORTS_FROM + slot * PORTS_PER_WORKER;
  return { first, end: first + PORTS_PER_WORKER };
}

/** Ports this process has handed out already. */
const handedOut = new Set<number>();

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ host: '0.0.0.0', port }, () => server.close(() => resolve(true)));
  });
}

/**
 * The first of `count` consecutive host ports of this worker's range that nobody listens on right
 * now, from a random place in the range (a stack's ports are numbered from one base).
 */
export async function freePortBlock(count: number): Promise<number> {
  const { first, end } = workerPortRange();
  const blocks = Math.floor((end - first) / count);
  const start = Math.floor(Math.random() * blocks);
  for (let i = 0; i < blocks; i++) {
    const base = first + ((start + i) % blocks) * count;
    const ports = Array.from({ length: count }, (_, k) => base + k);
    if (ports.some((port) => handedOut.has(port))) continue;
    // Taken before the first await, so that calls running side by side never share a port.
    for (const port of ports) handedOut.add(port);
    let free = true;
    for (const port of ports) if (!(free = await isFree(port))) break;
    if (free) return base;
    for (const port of ports) handedOut.delete(port);
  }
  throw new Error(`no ${count} free consecutive host ports in ${first}-${end - 1}`);
}

/** `count` host ports of this worker's range that nobody listens on right now. */
export async function freePorts(count: number): Promise<number[]> {
  const base = await freePortBlock(count);
  return Array.from({ length: count }, (_, i) => base + i);
}

const run = promisify(execFile);

export async function docker(args: string[]): Promise<string> {
  const { stdout } = await run('docker', args, { maxBuffer: 16 * 1024 * 1024 });
  return stdout.trim();
}

/** Containers, networks and volumes carrying the project's compose label. */
export async function projectResources(project: string): Promise<{ containers: string[]; networks: string[]; volumes: string[] }> {
  const label = `label=com.docker.compose.project=${project}`;
  const lines = (s: string) => s.split('\n').filter(Boolean).sort();
  const [containers, networks, volumes] = await Promise.all([
    docker(['ps', '-a', '--filter', label, '--format', '{{.Names}}']),
    docker(['network', 'ls', '--filter', label, '--format', '{{.Name}}']),
    docker(['volume', 'ls', '--filter', label, '--format', '{{.Name}}']),
  ]);
  return { containers: lines(containers), networks: lines(networks), volumes: lines(volumes) };
}

/** Remove everything of a project (test cleanup; never fails). */
export async function removeProject(project: string): Promise<void> {
  const { containers, networks, volumes } = await projectResources(project).catch(() => ({ containers: [], networks: [], volumes: [] }));
  if (containers.length) await docker(['rm', '-f', '-v', ...containers]).catch(() => undefined);
  if (networks.length) await docker(['network', 'rm', ...networks]).catch(() => undefined);
  if (volumes.length) await docker(['volume', 'rm', '-f', ...volumes]).catch(() => undefined);
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the built CLI (bin/msting.js) as a user would, without a terminal. */
export function msting(args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
  if (!existsSync(join(ROOT, 'dist', 'cli.js'))) throw new Error('dist/ is missing: run `npm run build` first');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: '1', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 240_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
  });
}
