import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDockerEngine } from '../../../src/docker/engine.js';
import { parseDockerInfo } from '../../../src/hardware/parse-docker-info.js';
import { CONFIG_HASH_LABEL } from '../../../src/render/compose.js';
import { runningServices } from '../../../src/update/docker.js';

/**
 * The engine facts `update` and preflight read through the Docker engine adapter, against the
 * real engine: an image's id, the image each service's container runs, the engine's resources.
 */

const exec = promisify(execFile);
const IMAGE = (JSON.parse(readFileSync(new URL('../../../.cache/test-images.json', import.meta.url), 'utf8')) as { busybox: string }).busybox;
const PROJECT = `msting-engine-facts-${process.pid}`;

async function docker(...args: string[]): Promise<string> {
  return (await exec('docker', args, { timeout: 60_000 })).stdout.trim();
}

describe('engine facts through the adapter', () => {
  const engine = createDockerEngine(process.env);
  let containerId: string;
  let imageId: string;

  beforeAll(async () => {
    imageId = await docker('image', 'inspect', '-f', '{{.Id}}', IMAGE);
    const labels = [`com.docker.compose.project=${PROJECT}`, 'com.docker.compose.service=probe', 'com.docker.compose.oneoff=False', `${CONFIG_HASH_LABEL}=abc123`];
    containerId = await docker('create', '--name', `${PROJECT}-probe-1`, ...labels.flatMap((l) => ['--label', l]), IMAGE, 'true');
  }, 60_000);

  afterAll(async () => {
    if (containerId) await docker('rm', '-f', containerId);
  });

  it('names the id of an image that is here, and null for one that is not', async () => {
    expect(await engine.imageId(IMAGE)).toBe(imageId);
    expect(await engine.imagePresent(IMAGE)).toBe(true);
    expect(await engine.imageId('msting-test/no-such-image:absent')).toBeNull();
    expect(await engine.imagePresent('msting-test/no-such-image:absent')).toBe(false);
  });

  it("lists each service's container with the image it was created from and its config hash", async () => {
    expect(await runningServices(engine, PROJECT)).toEqual([{ service: 'probe', containerId, imageId, configHash: 'abc123', state: 'created' }]);
  });

  it('reads the CPUs and memory the engine can give containers', async () => {
    const info = parseDockerInfo(await engine.info());
    expect(info.ncpu).toBeGreaterThan(0);
    expect(info.memTotalBytes).toBeGreaterThan(0);
    expect(info.dockerRootDir).toMatch(/^\//);
  });
});
