import { execFileSync, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readdir, rm, stat, truncate } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeModelState } from '../../../src/models/state.js';
import { runInstalledCli, type CliRun } from '../../support/cli.js';
import { freePortBlock } from '../../support/docker.js';
import { layOutModel } from '../../support/model-cache.js';
import { stackImages, writeStackHome, type StackImages } from '../../support/stack-home.js';

/**
 * The offline bundle on the real engine: `bundle create` of the default profile (the local test
 * images, tagged under this run's own names as if from a registry at an address nothing listens
 * on), `bundle verify`, the images removed from the engine, then `install --bundle` with no
 * registry and no Hub reachable: the images come back from the bundle and the stack comes up.
 * A bundle for another profile and a truncated copy are refused, and change nothing; so is a bundle
 * that does not fit on its disk (a real, small tmpfs). `update --bundle` with a new image under
 * the same tag loads it and recreates only the services that run it.
 */

const project = `msting-bundle-it-${process.pid}`;
/** Ports of the stack installed here, and (from base + 50) of the second install. */
const base = await freePortBlock(100);
// Nothing listens on port 9 (discard) here: a pull or a Hub request would fail, not hang.
const DEAD = '127.0.0.1:9';
const prefix = `${DEAD}/msting-bundle-it-${process.pid}`;

let work: string;
let home: string;
let ours: StackImages;
let bundle: string;

function docker(args: string[]): string {
  return execFileSync('docker', args, { encoding: 'utf8' }).trim();
}

function present(ref: string): boolean {
  return spawnSync('docker', ['image', 'inspect', ref], { stdio: 'ignore' }).status === 0;
}

/** Service → container id of this run's stack. */
function containers(): Map<string, string> {
  const lines = docker(['ps', '-a', '--filter', `label=com.docker.compose.project=${project}`, '--format', '{{.Label "com.docker.compose.service"}} {{.ID}}']).split('\n');
  return new Map(lines.filter(Boolean).map((l) => l.split(' ') as [string, string]));
}

function msting(args: string[], onSpawn?: (child: ChildProcess) => void): Promise<CliRun> {
  return runInstalledCli(home, work, args, onSpawn, { XDG_CACHE_HOME: join(work, 'cache'), HF_ENDPOINT: `http://${DEAD}` });
}

beforeAll(async () => {
  const images = stackImages();
  ours = { busybox: `${prefix}/busybox:1`, debian: `${prefix}/debian:1`, vault: `${prefix}/vault:1` };
  for (const key of ['busybox', 'debian', 'vault'] as const) docker(['tag', images[key], ours[key]]);
  ({ work, home } = await writeStackHome({ prefix: 'msting-bundle-it-', project, basePort: base, images: ours, imageLines: [`registry: ${DEAD}`] }));
  bundle = join(work, 'sting.tar');
}, 600_000);

afterAll(async () => {
  if (home && existsSync(home)) await msting(['uninstall', '--purge', '--yes']).catch(() => undefined);
  const ids = docker(['ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`]).split('\n').filter(Boolean);
  if (ids.length > 0) execFileSync('docker', ['rm', '-f', ...ids], { stdio: 'ignore' });
  // Only this run's own tags (uninstall --purge may have removed them already): the images under them stay for everyone else's.
  for (const ref of Object.values(ours ?? {})) spawnSync('docker', ['rmi', ref], { stdio: 'ignore' });
  if (work) await rm(work, { recursive: true, force: true });
});

describe('offline bundle: create, verify, install with no network', () => {
  it('bundle create killed half-way leaves no file that looks complete; the next run writes one with every image of the profile, and it verifies', async () => {
    let killed = false;
    const first = await msting(['--json', 'bundle', 'create', '--output', bundle], (child) => {
      child.stdout!.on('data', (d: Buffer) => {
        if (!killed && d.toString().includes('"event":"progress"')) {
          killed = true;
          child.kill('SIGKILL');
        }
      });
    });
    expect(killed, first.stderr).toBe(true);
    expect(existsSync(bundle)).toBe(false);
    const partial = await msting(['bundle', 'verify', `${bundle}.partial`]);
    expect(partial.code).toBe(1);
    expect(partial.stderr).toMatch(/manifest\.json is missing|truncated/);

    const r = await msting(['--json', 'bundle', 'create', '--output', bundle]);
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { file: string; images: { reference: string }[]; profile: string };
    expect(result.profile).toBe('default');
    expect(result.images.map((i) => i.reference).sort()).toEqual(Object.values(ours).sort());
    expect((await readdir(work)).filter((f) => f.endsWith('.partial'))).toEqual([]);
    const v = await msting(['bundle', 'verify', bundle]);
    expect(v.code, v.stderr).toBe(0);
    expect(v.stderr).toMatch(/is intact: .*profile default, msting \S+, 3 images/);
  });

  it('a bundle for another profile and a truncated copy are refused, and nothing is changed', async () => {
    const other = await msting(['install', '--bundle', bundle, '--profile', 'observability', '--yes', '--skip-models']);
    expect(other.code).toBe(4);
    expect(other.stderr).toMatch(/holds the images of profile default, not observability/);
    const cut = join(work, 'cut.tar');
    await copyFile(bundle, cut);
    await truncate(cut, Math.floor((await stat(cut)).size * 0.6));
    const verify = await msting(['bundle', 'verify', cut]);
    expect(verify.code).toBe(1);
    expect(verify.stderr).toMatch(/failed verification/);
    const install = await msting(['install', '--bundle', cut, '--yes', '--skip-models']);
    expect(install.code).toBe(1);
    expect(install.stderr).toMatch(/did not verify/);
    expect(existsSync(join(home, 'state.json'))).toBe(false);
    await rm(cut);
  });

  it('install --bundle loads the images it removed from the engine and starts the stack with no registry reachable', async () => {
    for (const ref of Object.values(ours)) docker(['rmi', ref]);
    for (const ref of Object.values(ours)) expect(present(ref), ref).toBe(false);
    const r = await msting(['install', '--bundle', bundle, '--yes', '--skip-models']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/STING-CE is installed \(profile default\)/);
    for (const ref of Object.values(ours)) expect(present(ref), ref).toBe(true);
    const status = await msting(['--json', 'status']);
    expect(status.code, status.stderr).toBe(0);
    expect((JSON.parse(status.stdout) as { healthy: boolean }).healthy).toBe(true);
  });

  it('update --bundle with a new image under the same tag loads it and recreates only the services that run it', async () => {
    const oldId = docker(['image', 'inspect', '--format', '{{.Id}}', ours.debian]);
    const before = containers();
    // A new build of the database image under the same tag, bundled; then the old one tagged back.
    const built = spawnSync('docker', ['build', '-q', '-t', ours.debian, '-'], { input: `FROM ${ours.debian}\nLABEL msting.test=update-bundle\n`, encoding: 'utf8', env: { ...process.env, DOCKER_BUILDKIT: '0' } });
    expect(built.status, built.stderr).toBe(0);
    const newId = docker(['image', 'inspect', '--format', '{{.Id}}', ours.debian]);
    expect(newId).not.toBe(oldId);
    const next = join(work, 'next.tar');
    const made = await msting(['bundle', 'create', '--output', next]);
    expect(made.code, made.stderr).toBe(0);
    docker(['tag', oldId, ours.debian]);

    const r = await msting(['--json', 'update', '--bundle', next, '--no-backup', '--yes']);
    expect(r.code, r.stderr).toBe(0);
    expect(docker(['image', 'inspect', '--format', '{{.Id}}', ours.debian])).toBe(newId);
    const after = containers();
    const recreated = [...before].filter(([service, id]) => after.get(service) !== id).map(([service]) => service).sort();
    expect(recreated).toEqual(['db', 'redis']);
    const status = await msting(['--json', 'status']);
    expect((JSON.parse(status.stdout) as { healthy: boolean }).healthy, status.stdout).toBe(true);
    await rm(next);
  });

  it('an --output in a folder that does not exist is refused with exit 2, and nothing is written', async () => {
    const r = await msting(['bundle', 'create', '--output', join(work, 'missing', 'sting.tar')]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/missing is not a folder that exists/);
    expect(r.stderr).toMatch(/hint: .*--output/);
    expect(existsSync(join(work, 'missing'))).toBe(false);
  });

  // Mounting the small disk needs root (CI runs as root); elsewhere test/unit/bundle covers the check.
  it.skipIf(process.getuid?.() !== 0)('a bundle that does not fit on its disk (a 16 MiB tmpfs) is refused before anything is written, exit 4', async () => {
    const small = join(work, 'small-disk');
    await mkdir(small);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'tmpfs', small]);
    try {
      const r = await msting(['bundle', 'create', '--output', join(small, 'sting.tar')]);
      expect(r.code, r.stderr).toBe(4);
      expect(r.stderr).toMatch(/not enough disk space for the bundle in .*small-disk/);
      expect(r.stderr).toMatch(/--output/);
      expect(await readdir(small)).toEqual([]);
    } finally {
      execFileSync('umount', [small]);
    }
  });

  it('--with-models carries the enabled model in the Hugging Face cache layout; a model not downloaded is refused by name, nothing written', async () => {
    const repo = 'msting-test/tiny-chat';
    const m = await writeStackHome({
      prefix: 'msting-bundle-models-it-',
      project: `${project}-m`,
      basePort: base + 50,
      images: ours,
      imageLines: [`registry: ${DEAD}`],
      configLines: ['llm:', '  models:', '    - name: tiny', `      repo: ${repo}`, '      parameters_b: 0.01', '  default_model: tiny'],
    });
    const run = (args: string[]): Promise<CliRun> => runInstalledCli(m.home, m.work, args, undefined, { XDG_CACHE_HOME: join(work, 'cache'), HF_ENDPOINT: `http://${DEAD}` });
    const output = join(m.work, 'with-models.tar');
    try {
      const refused = await run(['bundle', 'create', '--with-models', '--output', output]);
      expect(refused.code, refused.stderr).toBe(4);
      expect(refused.stderr).toMatch(/--with-models: not every enabled model is downloaded in .*: tiny \(missing\)/);
      expect(refused.stderr).toMatch(/msting models download/);
      expect(await readdir(m.work)).not.toContain('with-models.tar.partial');
      expect(existsSync(output)).toBe(false);

      // The model as `msting models download` leaves it: blobs named by digest, snapshot links, ref, msting's record.
      const models = join(m.work, 'models');
      const files = { 'config.json': '{"model_type":"tiny"}', 'weights/model.bin': 'w'.repeat(100_000) };
      const commit = await layOutModel(models, repo, 'main', files);
      const etag = (text: string): string => createHash('sha256').update(text).digest('hex');
      await writeModelState(models, {
        version: 1,
        name: 'tiny',
        repo,
        revision: 'main',
        commit,
        include: [],
        exclude: [],
        endpoint: 'https://huggingface.co',
        resolvedAt: '2026-01-01T00:00:00.000Z',
        files: Object.entries(files).map(([path, text]) => ({ path, size: Buffer.byteLength(text), etag: etag(text), algorithm: 'sha256' as const, verifiedAt: null, mtimeMs: null })),
      });
      const r = await run(['--json', 'bundle', 'create', '--with-models', '--output', output]);
      expect(r.code, r.stderr).toBe(0);
      expect((JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { models: string[] }).models).toEqual(['tiny']);
      const v = await run(['bundle', 'verify', output]);
      expect(v.code, v.stderr).toBe(0);
      expect(v.stderr).toMatch(/3 images, 1 models?/);
      const folder = 'models/models--msting-test--tiny-chat';
      const listing = execFileSync('tar', ['-tvf', output], { encoding: 'utf8' });
      for (const text of Object.values(files)) expect(listing).toContain(`${folder}/blobs/${etag(text)}`);
      expect(listing).toContain(`${folder}/snapshots/${commit}/weights/model.bin -> ../../../blobs/${etag(files['weights/model.bin'])}`);
      expect(listing).toContain(`${folder}/snapshots/${commit}/config.json -> ../../blobs/${etag(files['config.json'])}`);
      expect(execFileSync('tar', ['-xOf', output, `${folder}/blobs/${etag(files['weights/model.bin'])}`], { encoding: 'utf8' })).toBe(files['weights/model.bin']);
    } finally {
      await rm(m.work, { recursive: true, force: true });
    }
  });
});
