import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import type { Recommendation } from '../../../src/hardware/types.js';
import { readModelCommits } from '../../../src/models/snapshots.js';
import { renderStack } from '../../../src/render/render-stack.js';
import { writeRendered } from '../../../src/render/write.js';
import { layOutModel } from '../../support/model-cache.js';
import { FAKE_SECRETS, makeConfig } from '../../unit/render/fixtures.js';

/**
 * The rendered compose file on the real engine: a model service (busybox stand-in) sees the
 * downloaded files at the path it reads, and the segmented networks keep the data stores and
 * Kratos's admin API out of reach of the edge. Only the services under test run (db, redis, the
 * model, Vault and Kratos), from real PostgreSQL and Redis (msting-test/debian) and busybox
 * stand-ins. Project and host ports are this test's own.
 */

const exec = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../../..');
const PROJECT = 'msting-it-netmodels';
const DB_PORT = 21300;
const KRATOS_ADMIN_PORT = 21301;
const REPO = 'msting-test/tiny-chat';
const FILES = { 'config.json': '{"model_type":"llama","hidden_size":8}', 'tokenizer.json': '{"version":"1.0"}', 'model.safetensors': 'not really weights' };

let work = '';
let home = '';
let modelsDir = '';
let images: { busybox: string; debian: string };

const docker = async (...args: string[]) => (await exec('docker', args, { timeout: 120_000 })).stdout.trim();
const compose = (...args: string[]) => docker('compose', '-p', PROJECT, '-f', join(home, 'compose', 'docker-compose.yml'), '--profile', 'full', ...args);

/**
 * Run a throwaway busybox on one network, or on several as compose attaches a service to them
 * (created on the first, connected to the rest, then started); exit status 0 when the shell
 * script succeeded.
 */
async function probeFrom(network: string | string[], script: string): Promise<{ ok: boolean; out: string }> {
  const [first, ...rest] = (Array.isArray(network) ? network : [network]).map((n) => `${PROJECT}_${n}`);
  const id = await docker('create', '--label', `msting.test=${PROJECT}`, '--network', first!, '--entrypoint', 'sh', images.busybox, '-c', script);
  try {
    for (const n of rest) await docker('network', 'connect', n, id);
    return { ok: true, out: await docker('start', '-a', id) };
  } catch (err) {
    return { ok: false, out: String((err as { stdout?: string }).stdout ?? '') };
  } finally {
    await docker('rm', '-f', id).catch(() => undefined);
  }
}

/** The networks the rendered compose file attaches `service` to. */
async function networksOf(service: string): Promise<string[]> {
  const doc = parseYaml(await readFile(join(home, 'compose', 'docker-compose.yml'), 'utf8')) as { services: Record<string, { networks: Record<string, unknown> }> };
  return Object.keys(doc.services[service]!.networks);
}

async function waitHealthy(services: string[]): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const ids = (await compose('ps', '-q', ...services)).split('\n').filter(Boolean);
    const states = ids.length === 0 ? [] : (await docker('inspect', '-f', '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}', ...ids)).split('\n');
    if (states.length === services.length && states.every((s) => s === 'healthy' || s === 'running')) return;
    if (Date.now() > deadline) throw new Error(`not healthy in time: ${services.join(', ')}: ${states.join(', ')}\n${await compose('logs', '--tail', '30').catch(() => '')}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

function tcpOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host, port }, () => {
      socket.destroy();
      done(true);
    });
    socket.on('error', () => done(false));
    socket.setTimeout(3000, () => {
      socket.destroy();
      done(false);
    });
  });
}

beforeAll(async () => {
  const file = join(ROOT, '.cache/test-images.json');
  if (!existsSync(file)) await exec('bash', [join(ROOT, 'test/images/build.sh')]);
  images = JSON.parse(await readFile(file, 'utf8')) as typeof images;
  work = await mkdtemp(join(tmpdir(), 'msting-it-netmodels-'));
  home = join(work, 'home');
  modelsDir = join(work, 'models');
  const commit = await layOutModel(modelsDir, REPO, 'main', FILES);
  expect(commit).toMatch(/^[0-9a-f]{40}$/);
  const config = makeConfig({
    project: { name: PROJECT },
    llm: { models: [{ name: 'tiny', repo: REPO }], default_model: 'tiny' },
    ports: { db: DB_PORT, 'kratos-admin': KRATOS_ADMIN_PORT },
    // Vault as a stand-in that listens on Vault's port: enough to show who can open it.
    // Kratos as the stand-in's Kratos mode: it listens where the rendered kratos.yml says, the
    // admin API on the address serve.admin.host resolves to at start, as Kratos does.
    images: { overrides: { db: images.debian, redis: images.debian, tiny: images.busybox, vault: images.busybox, kratos: images.busybox } },
  });
  const recommendation: Recommendation = {
    device: 'cpu',
    precision: 'int8',
    gpuReservation: null,
    reasons: [],
    advice: [],
    models: [{ name: 'tiny', fits: true, requiredBytes: 1, memoryLimit: '256m', quantization: 'none', reason: 'tiny' }],
  };
  const rendered = renderStack({ config, profile: 'full', recommendation, secrets: FAKE_SECRETS, modelsDir, modelCommits: await readModelCommits(modelsDir, config.llm.models) });
  await writeRendered(rendered.files, home);
  await compose('up', '-d', '--no-deps', 'db', 'redis', 'tiny', 'vault', 'kratos');
  // Kratos's health check asks the admin API at the name it binds.
  await waitHealthy(['db', 'redis', 'tiny', 'kratos']);
}, 300_000);

afterAll(async () => {
  if (home) await compose('down', '--volumes', '--remove-orphans', '--timeout', '5').catch(() => undefined);
  if (work) await rm(work, { recursive: true, force: true });
}, 120_000);

describe('the rendered stack on the real engine', () => {
  it('a model service finds the downloaded files at MODEL_PATH, through the cache links', async () => {
    const path = await compose('exec', '-T', 'tiny', 'sh', '-c', 'printf %s "$MODEL_PATH"');
    expect(path).toMatch(new RegExp(`^/models/models--msting-test--tiny-chat/snapshots/[0-9a-f]{40}$`));
    expect(await compose('exec', '-T', 'tiny', 'sh', '-c', 'cat "$MODEL_PATH/config.json"')).toBe(FILES['config.json']);
    expect(await compose('exec', '-T', 'tiny', 'sh', '-c', 'readlink "$MODEL_PATH/model.safetensors"')).toMatch(/^\.\.\/\.\.\/blobs\/[0-9a-f]{64}$/);
    expect(await compose('exec', '-T', 'tiny', 'sh', '-c', 'ls "$MODEL_PATH" | sort | tr "\\n" " "')).toBe('config.json model.safetensors tokenizer.json');
  });

  it('a container on the edge network cannot open Redis or PostgreSQL; one on the data network can, by either name', async () => {
    const ip = async (service: string) => docker('inspect', '-f', `{{(index .NetworkSettings.Networks "${PROJECT}_data").IPAddress}}`, (await compose('ps', '-q', service)).trim());
    const redisIp = await ip('redis');
    const dbIp = await ip('db');
    // By address, so DNS cannot be what stops it.
    expect((await probeFrom('edge', `nc -z ${redisIp} 6379`)).ok).toBe(false);
    expect((await probeFrom('edge', `nc -z ${dbIp} 5432`)).ok).toBe(false);
    expect((await probeFrom('app', `nc -z ${redisIp} 6379`)).ok).toBe(false);
    expect((await probeFrom('data', 'nc -z redis 6379 && nc -z sting-ce-redis 6379 && nc -z db 5432 && nc -z sting-ce-db 5432')).ok).toBe(true);
  });

  it('the frontend\'s network cannot open Vault; its clients on the data network can', async () => {
    const vault = (await compose('ps', '-q', 'vault')).trim();
    const vaultIp = await docker('inspect', '-f', `{{(index .NetworkSettings.Networks "${PROJECT}_data").IPAddress}}`, vault);
    // Unpublished by default: no host port either.
    expect(await compose('port', 'vault', '8200').catch(() => '')).toBe('');
    const deadline = Date.now() + 60_000;
    while (!(await probeFrom('data', 'nc -z vault 8200')).ok) {
      if (Date.now() > deadline) throw new Error('the vault stand-in never listened on the data network');
    }
    expect((await probeFrom('edge', `nc -z ${vaultIp} 8200`)).ok).toBe(false);
    expect((await probeFrom('data', `nc -z ${vaultIp} 8200 && nc -z sting-ce-vault 8200`)).ok).toBe(true);
    // msting itself reaches an unpublished Vault at this address: the host routes to the internal network.
    const fromHost = await tcpOpen(8200, vaultIp);
    expect(fromHost).toBe(true);
  });

  it("the frontend's network opens Kratos's public API but not its admin API; the app's networks and the published port open both", async () => {
    const frontend = await networksOf('frontend');
    expect(frontend).toEqual(['edge']);
    const kratosAppIp = await docker('inspect', '-f', `{{(index .NetworkSettings.Networks "${PROJECT}_app").IPAddress}}`, (await compose('ps', '-q', 'kratos')).trim());
    // The public API answers on the frontend's network, so a refused admin port is not a Kratos that is down.
    expect((await probeFrom(frontend, 'nc -z kratos 4433 && nc -z sting-ce-kratos 4433')).ok).toBe(true);
    expect((await probeFrom(frontend, 'nc -z kratos 4434')).ok).toBe(false);
    expect((await probeFrom(frontend, 'nc -z sting-ce-kratos 4434')).ok).toBe(false);
    expect((await probeFrom(frontend, `nc -z ${kratosAppIp} 4434`)).ok).toBe(false);
    // STING-CE's app calls https://kratos:4434 by that name: on all of its networks, the name answers with Kratos's app-network address.
    const app = await networksOf('app');
    expect(app).toEqual(expect.arrayContaining(['edge', 'app']));
    expect((await probeFrom(app, 'nc -z kratos 4434 && nc -z sting-ce-kratos 4434 && nc -z kratos 4433')).ok).toBe(true);
    expect(await tcpOpen(KRATOS_ADMIN_PORT)).toBe(true);
  });

  it('the data network has no way out, and the model network reaches no data store', async () => {
    expect((await probeFrom('models', `nc -z ${await docker('inspect', '-f', `{{(index .NetworkSettings.Networks "${PROJECT}_data").IPAddress}}`, (await compose('ps', '-q', 'redis')).trim())} 6379`)).ok).toBe(false);
    const internal = await docker('network', 'inspect', '-f', '{{.Internal}}', `${PROJECT}_data`, `${PROJECT}_models`);
    expect(internal.split('\n')).toEqual(['true', 'true']);
  });

  it('the published database port still answers on the host; Redis publishes nothing', async () => {
    expect(await tcpOpen(DB_PORT)).toBe(true);
    expect(await compose('port', 'redis', '6379').catch(() => '')).toBe('');
  });

  it('every container runs under its process limit: PostgreSQL\'s follows max_connections, a fork bomb stops at Redis\'s', async () => {
    const limit = async (service: string) => Number(await docker('inspect', '-f', '{{.HostConfig.PidsLimit}}', (await compose('ps', '-q', service)).trim()));
    expect(await limit('db')).toBe(100 * 2 + 64);
    expect(await limit('redis')).toBe(256);
    // Past the limit the kernel refuses new processes inside the container: fork fails there.
    const redis = (await compose('ps', '-q', 'redis')).trim();
    const bomb = await docker('exec', redis, 'sh', '-c', 'i=0; while [ $i -lt 400 ]; do sleep 30 & i=$((i+1)); done 2>&1 | head -1; echo done').catch((err: Error) => err.message);
    expect(bomb).toMatch(/can't fork|Resource temporarily unavailable|Cannot allocate|fork/i);
    await docker('exec', redis, 'sh', '-c', 'pkill sleep || killall sleep || true').catch(() => undefined);
  });
});
