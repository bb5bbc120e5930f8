/**
 * Global setup of the integration project: is there a Docker engine, and are the local test
 * images built (test/images/build.sh builds them once, then reuses them)? Without an engine the
 * Docker tests are skipped with one line saying why; under CI (env CI set) that fails the run
 * instead, because CI prepares the engine with scripts/ensure-docker.sh. The images are built
 * here, once, before any test file runs: files run side by side and must not build them at once.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { ROOT, type TestImages } from './docker.js';

function isCi(env: NodeJS.ProcessEnv): boolean {
  return env.CI !== undefined && env.CI !== '' && env.CI !== 'false' && env.CI !== '0';
}

function engineProblem(): string | null {
  const info = spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], { encoding: 'utf8', timeout: 20_000 });
  if (info.error) return (info.error as NodeJS.ErrnoException).code === 'ENOENT' ? 'the docker CLI is not installed' : `docker info failed: ${info.error.message}`;
  if (info.status !== 0) return `no Docker engine answers (${(info.stderr || info.stdout).trim().split('\n')[0] ?? 'docker info failed'})`;
  const compose = spawnSync('docker', ['compose', 'version', '--short'], { encoding: 'utf8', timeout: 20_000 });
  if (compose.status !== 0 || !/^v?2\./.test(compose.stdout.trim())) return 'Docker Compose v2 is not installed';
  return null;
}

export default function setup(project: TestProject): void {
  let reason = engineProblem();
  let images: TestImages | null = null;
  if (reason === null) {
    const build = spawnSync(join(ROOT, 'test', 'images', 'build.sh'), [], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 600_000 });
    const vault = build.status === 0 ? spawnSync(join(ROOT, 'test', 'vault-emulator', 'build-image.sh'), [], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 600_000 }) : null;
    if (build.status !== 0) reason = 'the local test images could not be built (test/images/build.sh failed; see above)';
    else if (vault?.status !== 0) reason = 'the Vault emulator image could not be built (test/vault-emulator/build-image.sh failed; see above)';
    else {
      const built = JSON.parse(readFileSync(join(ROOT, '.cache', 'test-images.json'), 'utf8')) as Omit<TestImages, 'vault'>;
      images = { ...built, vault: vault.stdout.trim().split('\n').at(-1)! };
    }
  }
  if (reason !== null) {
    if (isCi(process.env)) throw new Error(`Docker is required under CI: ${reason}. Prepare the machine with scripts/ensure-docker.sh and test/images/build.sh.`);
    process.stderr.write(`integration: Docker tests skipped: ${reason}\n`);
  }
  project.provide('dockerSkipReason', reason);
  project.provide('dockerImages', images);
}
