import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { runInstalledCli, type CliRun } from '../../support/cli.js';
import { dockerSkipReason, freePortBlock, freePorts, removeProject } from '../../support/docker.js';
import { registryDigest, registrySkipReason, startRegistry, type TestRegistry } from '../../support/registry.js';
import { stackImages, writeStackHome } from '../../support/stack-home.js';

/**
 * msting against a real private registry (Debian's docker-registry on 127.0.0.1): install pulls
 * the STING-CE images from images.registry; update pulls new content under the same tag while the
 * old containers run and recreates only what changed; a digest pin is honoured and one the
 * registry does not serve is refused; a registry that is down or answers 401 stops update with
 * exit 5 and changes nothing; `images push` publishes a host's images for other hosts.
 * messaging and knowledge come from the registry; every other service is a local stand-in.
 */

const project = `msting-reg-${process.pid}`;
const FROM_REGISTRY = ['messaging', 'knowledge'];
const skip = dockerSkipReason() ?? registrySkipReason();

let work: string;
let home: string;
let open: TestRegistry;
let locked: TestRegistry;
let registry: string;
let busybox: string;
let images: ReturnType<typeof stackImages>;
let basePort: number;
const localTags: string[] = [];

const msting = (args: string[]): Promise<CliRun> => runInstalledCli(home, work, args);
const docker = (args: string[]): string => execFileSync('docker', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
const image = (service: string, tag = 'v1') => `${registry}/sting-ce-${service}:${tag}`;

function containerIds(): Map<string, string> {
  const lines = docker(['ps', '-a', '--no-trunc', '--filter', `label=com.docker.compose.project=${project}`, '--format', '{{.Label "com.docker.compose.service"}} {{.ID}}']);
  return new Map(lines.split('\n').filter(Boolean).map((l) => l.split(' ') as [string, string]));
}

/** Change config.yml as an operator would (the stack-home file is plain YAML). */
async function editConfig(change: (doc: ReturnType<typeof parseDocument>) => void): Promise<void> {
  const path = join(home, 'conf', 'config.yml');
  const doc = parseDocument(await readFile(path, 'utf8'));
  change(doc);
  await writeFile(path, doc.toString());
}

/** Content and mtime of everything msting renders or records: the proof that a refused run changed nothing. */
async function renderedState(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const dir of ['compose', 'env']) {
    for (const e of await readdir(join(home, dir), { recursive: true, withFileTypes: true })) {
      if (!e.isFile()) continue;
      const path = join(e.parentPath, e.name);
      out.set(path, `${(await stat(path)).mtimeMs} ${await readFile(path, 'utf8')}`);
    }
  }
  out.set('state.json', await readFile(join(home, 'state.json'), 'utf8'));
  return out;
}

function push(source: string, target: string): string {
  docker(['tag', source, target]);
  localTags.push(target);
  const out = docker(['push', target]);
  return /digest: (sha256:[a-f0-9]{64})/.exec(out)![1]!;
}

beforeAll(async () => {
  if (skip) return;
  images = stackImages();
  busybox = images.busybox;
  [open, locked] = await Promise.all([startRegistry(), startRegistry({ auth: { user: 'operator', password: `pw-${process.pid}` } })]);
  registry = `${open.address}/sting`;
  // What a build host would have pushed: the stand-in under the STING-CE names, then the local
  // names removed, so that install must pull them.
  for (const s of FROM_REGISTRY) push(busybox, image(s));
  docker(['rmi', ...FROM_REGISTRY.map((s) => image(s))]);
  basePort = await freePortBlock(100);
  ({ work, home } = await writeStackHome({
    prefix: 'msting-registry-it-',
    project,
    basePort,
    images,
    imageLines: [`registry: ${registry}`, 'version: v1'],
    fromRegistry: FROM_REGISTRY,
  }));
}, 300_000);

afterAll(async () => {
  if (skip) return;
  await removeProject(project);
  // By name only (a tag, or repository@digest for what the update left untagged): the images
  // share their id with the stand-in, which must stay.
  const mine = docker(['images', '--digests', '--format', '{{.Repository}} {{.Tag}} {{.Digest}}'])
    .split('\n')
    .map((l) => l.split(' ') as [string, string, string])
    .filter(([repo]) => [`${open?.address}/`, `${locked?.address}/`, 'msting-reg-it/'].some((p) => repo.startsWith(p)))
    .map(([repo, tag, digest]) => (tag === '<none>' ? `${repo}@${digest}` : `${repo}:${tag}`));
  for (const ref of new Set([...mine, ...localTags])) spawnSync('docker', ['rmi', ref], { stdio: 'ignore' });
  await Promise.all([open?.stop(), locked?.stop()]);
  if (work) await rm(work, { recursive: true, force: true });
});

describe.skipIf(skip !== null)(`msting with a private registry${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('install on a host whose registry is down stops at the images step with one message and a hint (exit 5)', async () => {
    const [closed] = await freePorts(1);
    const other = await writeStackHome({
      prefix: 'msting-registry-it-down-',
      project: `${project}-down`,
      basePort: basePort + 50,
      images,
      imageLines: [`registry: 127.0.0.1:${closed}/sting`, 'version: v1'],
      fromRegistry: FROM_REGISTRY,
    });
    try {
      const r = await runInstalledCli(other.home, other.work, ['install', '--yes', '--skip-models']);
      expect(r.code, r.stderr).toBe(5);
      expect(r.stderr).toMatch(new RegExp(`error: install step "images" \\(.*\\) failed: cannot pull 127\\.0\\.0\\.1:${closed}/sting/sting-ce-(messaging|knowledge):v1 \\((messaging|knowledge)\\): the registry 127\\.0\\.0\\.1:${closed} does not answer`));
      expect(r.stderr).toMatch(/hint: check images\.registry in config\.yml and that the registry is running/);
      const state = JSON.parse(await readFile(join(other.home, 'state.json'), 'utf8')) as { steps: Record<string, { status: string }> };
      expect(state.steps.images?.status).toBe('failed');
      expect(docker(['ps', '-aq', '--filter', `label=com.docker.compose.project=${project}-down`])).toBe('');
    } finally {
      await removeProject(`${project}-down`);
      await rm(other.work, { recursive: true, force: true });
    }
  });

  it('install pulls the STING-CE images from images.registry', async () => {
    for (const s of FROM_REGISTRY) expect(() => docker(['image', 'inspect', image(s)])).toThrow();
    const r = await msting(['install', '--yes', '--skip-models', '--timeout', '180']);
    expect(r.code, r.stderr).toBe(0);
    const ids = containerIds();
    for (const s of FROM_REGISTRY) {
      // The container runs the image as the registry served it (the engine records where from).
      expect(docker(['inspect', '-f', '{{.Config.Image}}', ids.get(s)!])).toBe(image(s));
      expect(docker(['image', 'inspect', '-f', '{{join .RepoDigests " "}}', image(s)])).toContain(`${registry}/sting-ce-${s}@${await registryDigest(open.address, `sting/sting-ce-${s}`, 'v1')}`);
      expect(docker(['inspect', '-f', '{{.State.Health.Status}}', ids.get(s)!])).toBe('healthy');
    }
    const list = await msting(['--json', 'images', 'list']);
    expect(list.code, list.stderr).toBe(0);
    const rows = (JSON.parse(list.stdout) as { images: { service: string; present: boolean; digest: string | null }[] }).images;
    expect(rows.filter((row) => !row.present)).toEqual([]);
    expect(rows.find((row) => row.service === 'messaging')?.digest).toMatch(/^sha256:/);
  });

  it('update pulls new content under the same tag while the old containers run, honours a new digest pin, and recreates only those services', async () => {
    const oldId = docker(['image', 'inspect', '-f', '{{.Id}}', image('messaging')]);
    // A new messaging image in the registry under the same tag; this host still has the old one.
    const ctx = join(work, 'messaging-v1-new');
    await mkdir(ctx, { recursive: true });
    await writeFile(join(ctx, 'Dockerfile'), `FROM ${busybox}\nLABEL org.sting-ce.test.build="${process.pid}-new"\n`);
    execFileSync('docker', ['build', '-q', '-t', `msting-reg-it/messaging:${process.pid}`, ctx], { stdio: 'ignore', env: { ...process.env, DOCKER_BUILDKIT: '0' } });
    const newId = docker(['image', 'inspect', '-f', '{{.Id}}', `msting-reg-it/messaging:${process.pid}`]);
    push(`msting-reg-it/messaging:${process.pid}`, image('messaging'));
    docker(['tag', oldId, image('messaging')]);
    // knowledge pinned to the digest the registry serves for its tag.
    const digest = (await registryDigest(open.address, 'sting/sting-ce-knowledge', 'v1'))!;
    await editConfig((doc) => doc.setIn(['images', 'digests', 'knowledge'], digest));
    const before = containerIds();

    // The engine's own record: when the new image was pulled and when the old container stopped.
    const events = spawn('docker', ['events', '--format', '{{json .}}', '--filter', 'event=pull', '--filter', 'event=die', '--filter', 'event=tag']);
    let eventText = '';
    events.stdout.on('data', (d: Buffer) => (eventText += d.toString()));
    // The stream is live once it shows a tag event of our own.
    const probe = `msting-reg-it/probe:${process.pid}`;
    for (const deadline = Date.now() + 20_000; !eventText.includes(probe); ) {
      if (Date.now() > deadline) throw new Error(`docker events showed nothing: ${eventText}`);
      docker(['tag', busybox, probe]);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const r = await msting(['update', '--no-backup', '--timeout', '120']);
    events.kill();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/updated 2 services: (messaging, knowledge|knowledge, messaging)/);

    const after = containerIds();
    for (const [service, id] of before) {
      if (FROM_REGISTRY.includes(service)) expect(after.get(service), service).not.toBe(id);
      else expect(after.get(service), service).toBe(id);
    }
    expect(docker(['inspect', '-f', '{{.Image}}', after.get('messaging')!])).toBe(newId);
    const seen = eventText.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { status: string; id: string; timeNano: number });
    const pulled = seen.find((e) => e.status === 'pull' && e.id === image('messaging'));
    const died = seen.find((e) => e.status === 'die' && e.id === before.get('messaging'));
    expect(pulled, eventText).toBeDefined();
    expect(died, eventText).toBeDefined();
    expect(pulled!.timeNano).toBeLessThan(died!.timeNano);

    // The pinned service runs exactly that manifest.
    expect(docker(['inspect', '-f', '{{.Config.Image}}', after.get('knowledge')!])).toBe(`${image('knowledge')}@${digest}`);
    expect(docker(['inspect', '-f', '{{.Image}}', after.get('knowledge')!])).toBe(docker(['image', 'inspect', '-f', '{{.Id}}', `${registry}/sting-ce-knowledge@${digest}`]));
  });

  it('a digest pin the registry does not serve is refused, naming the service, the pin and what the registry has; nothing changes', async () => {
    const served = (await registryDigest(open.address, 'sting/sting-ce-messaging', 'v1'))!;
    const wrong = `sha256:${'e'.repeat(64)}`;
    await editConfig((doc) => doc.setIn(['images', 'digests', 'messaging'], wrong));
    const before = containerIds();
    const files = await renderedState();
    const r = await msting(['update', '--no-backup']);
    expect(r.code, r.stderr).toBe(5);
    expect(r.stderr).toContain(`images.digests.messaging pins ${wrong}, but the registry serves ${served} for ${image('messaging')}`);
    expect(r.stderr).toMatch(new RegExp(`hint: .*set images\\.digests\\.messaging: ${served}`));
    expect(containerIds()).toEqual(before);
    expect(await renderedState()).toEqual(files);
    await editConfig((doc) => doc.deleteIn(['images', 'digests', 'messaging']));
  });

  it('a registry that is down, or answers 401, stops update with one message and a hint (exit 5); nothing changes', async () => {
    const before = containerIds();
    const files = await renderedState();
    const [closed] = await freePorts(1);
    await editConfig((doc) => {
      doc.setIn(['images', 'registry'], `127.0.0.1:${closed}/sting`);
      doc.deleteIn(['images', 'digests']);
    });
    const down = await msting(['update', '--no-backup']);
    expect(down.code, down.stderr).toBe(5);
    expect(down.stderr).toMatch(new RegExp(`error: cannot pull 127\\.0\\.0\\.1:${closed}/sting/sting-ce-(messaging|knowledge):v1 \\((messaging|knowledge)\\): the registry 127\\.0\\.0\\.1:${closed} does not answer`));
    expect(down.stderr).toMatch(/hint: check images\.registry in config\.yml and that the registry is running/);
    expect(down.stderr.match(/^error:/gm)).toHaveLength(1);

    await editConfig((doc) => doc.setIn(['images', 'registry'], `${locked.address}/sting`));
    const denied = await msting(['update', '--no-backup']);
    expect(denied.code, denied.stderr).toBe(5);
    expect(denied.stderr).toMatch(new RegExp(`the registry ${locked.address.replace(/\./g, '\\.')} wants credentials \\(401 unauthorized\\)`));
    expect(denied.stderr).toContain(`hint: log in on this host with \`docker login ${locked.address}\``);

    expect(containerIds()).toEqual(before);
    expect(await renderedState()).toEqual(files);
    await editConfig((doc) => doc.setIn(['images', 'registry'], registry));
  });

  it('images push publishes the host\'s STING-CE images under the names other hosts pull, and prints their config lines', async () => {
    const target = `${open.address}/published`;
    const r = await msting(['images', 'push', '--registry', target]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`pushed 4 images to ${target}:`);
    expect(r.stdout).toMatch(new RegExp(`^ {4}registry: ${target.replace(/\./g, '\\.')}$`, 'm'));
    expect(r.stdout).toMatch(/^ {4}version: "v1"$/m);
    for (const service of ['app', 'frontend', 'knowledge', 'messaging']) {
      // Each image is in the registry under the name a host with images.registry: <target> pulls.
      const served = await registryDigest(open.address, `published/sting-ce-${service}`, 'v1');
      expect(served, service).toMatch(/^sha256:/);
      expect(r.stdout).toContain(`  ${target}/sting-ce-${service}:v1  ${served}`);
      expect(r.stdout).toContain(`    ${service}: ${served}`);
    }

    const [closed] = await freePorts(1);
    const down = await msting(['--json', 'images', 'push', '--registry', `127.0.0.1:${closed}/x`]);
    expect(down.code).toBe(5);
    // NDJSON progress events, then the error document.
    const error = (JSON.parse(down.stdout.slice(down.stdout.indexOf('{\n  "error"'))) as { error: { message: string; hint: string } }).error;
    expect(error.message).toMatch(new RegExp(`^cannot push 127\\.0\\.0\\.1:${closed}/x/sting-ce-\\S+ \\(\\S+\\): the registry 127\\.0\\.0\\.1:${closed} does not answer$`));
    expect(error.hint).toContain('check the --registry address');
    // A refused push leaves no new tag behind.
    expect(docker(['images', '--format', '{{.Repository}}']).split('\n').filter((repo) => repo.startsWith(`127.0.0.1:${closed}/`))).toEqual([]);
    const denied = await msting(['images', 'push', '--registry', `${locked.address}/x`]);
    expect(denied.code).toBe(5);
    expect(denied.stderr).toContain(`docker login ${locked.address}`);
  });
});
