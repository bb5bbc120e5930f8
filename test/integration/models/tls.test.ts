import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureLocalCertificates } from '../../../src/ssl/local-ca.js';
import { startHub, type HubServer, type TlsIdentity } from '../../hub-server/server.js';
import { content, sha256, startProxy, tempDir } from './helpers.js';

/**
 * Downloads over HTTPS, as from the real hub: the built binary against the local hub serving TLS
 * with certificates from a private authority, the case of a mirror or a TLS-inspecting proxy whose
 * CA the operator installed. Node trusts only its own bundled roots; msting adds the system's
 * store, or SSL_CERT_FILE / SSL_CERT_DIR, and names the problem when a certificate is not trusted.
 */
const ROOT = resolve(import.meta.dirname, '../../..');
const BIN = join(ROOT, 'bin', 'msting.js');
const MiB = 1024 * 1024;
const WEIGHTS = content(3 * MiB + 5, 21);

let work: { dir: string; cleanup: () => Promise<void> };
/** The hub and its storage, both with certificates from authority A. */
let hub: HubServer;
/** A hub whose storage origin presents a certificate from authority B. */
let split: HubServer;
let caA: string;
let caB: string;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

async function authority(name: string): Promise<{ ca: string; identity: TlsIdentity }> {
  const certsDir = join(work.dir, name);
  const result = await ensureLocalCertificates({ certsDir, secretsDir: join(work.dir, `${name}-secrets`), names: ['127.0.0.1'] });
  return { ca: result.paths.caCert, identity: { cert: await readFile(result.paths.cert, 'utf8'), key: await readFile(result.paths.key, 'utf8') } };
}

function msting(target: HubServer, args: string[], extra: Record<string, string> = {}): Promise<Run> {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: work.dir,
    HF_ENDPOINT: target.url,
    STING_MODELS_DIR: join(work.dir, `models-${Math.random().toString(36).slice(2)}`),
    MSTING_DOWNLOAD_RETRY_BASE_MS: '50',
    ...extra,
  };
  const child = spawn(process.execPath, [BIN, '--home', join(work.dir, 'home'), ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((res) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      res({ code, stdout, stderr });
    }),
  );
}

const repos = [
  {
    repo: 'acme/secure',
    files: [
      { path: 'config.json', data: Buffer.from('{"model_type":"llama"}\n') },
      { path: 'model.safetensors', data: WEIGHTS, lfs: true },
    ],
  },
];

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'dist', 'cli.js'))) throw new Error('build first: npm run build');
  work = await tempDir('tls');
  await mkdir(join(work.dir, 'home', 'conf'), { recursive: true });
  await writeFile(join(work.dir, 'home', 'conf', 'config.yml'), 'llm:\n  models:\n    - name: secure\n      repo: acme/secure\n');
  const a = await authority('ca-a');
  const b = await authority('ca-b');
  caA = a.ca;
  caB = b.ca;
  hub = await startHub({ repos, tls: a.identity });
  split = await startHub({ repos, tls: a.identity, storageTls: b.identity });
});

afterAll(async () => {
  await hub?.close();
  await split?.close();
  await work?.cleanup();
});

describe('msting models over HTTPS (built binary, local hub with a private CA)', () => {
  it('downloads and verifies when the CA is given in SSL_CERT_FILE', async () => {
    expect(hub.url).toMatch(/^https:/);
    expect(hub.storageUrl).toMatch(/^https:/);
    const modelsDir = join(work.dir, 'trusted');
    const run = await msting(hub, ['models', 'download', 'secure'], { SSL_CERT_FILE: caA, STING_MODELS_DIR: modelsDir });
    expect(run.stderr).not.toContain('error');
    expect(run.code).toBe(0);
    const snapshot = /in (\S+)$/m.exec(run.stdout)![1]!;
    expect(sha256(await readFile(join(snapshot, 'model.safetensors')))).toBe(sha256(WEIGHTS));
  });

  it('names the host and how to trust its CA when the hub\'s certificate is not trusted, without retrying', async () => {
    hub.resetStats();
    const run = await msting(hub, ['models', 'download', 'secure']);
    expect(run.code).toBe(5);
    expect(run.stderr).toContain(`the TLS certificate of ${new URL(hub.url).host} is not signed by an authority this machine trusts`);
    expect(run.stderr).toContain('SSL_CERT_FILE');
    expect(run.stderr).toContain('update-ca-certificates');
    // A certificate does not fix itself: one handshake, no backoff loop.
    expect(run.stderr).not.toContain('retrying');
    const json = await msting(hub, ['--json', 'models', 'download', 'secure']);
    expect(json.code).toBe(5);
    expect(JSON.parse(json.stdout.slice(json.stdout.indexOf('{\n')))).toMatchObject({ error: { code: 'HUB_TLS' } });
  });

  it('names the storage host when only the host a download is redirected to is untrusted; SSL_CERT_DIR adds both CAs', async () => {
    const one = await msting(split, ['models', 'download', 'secure'], { SSL_CERT_FILE: caA });
    expect(one.code).toBe(5);
    expect(one.stderr).toContain(`the TLS certificate of ${new URL(split.storageUrl).host} is not signed by an authority this machine trusts`);
    expect(one.stderr).toContain(`msting reads ${caA}`);

    const dir = join(work.dir, 'cert-dir');
    await mkdir(dir, { recursive: true });
    await copyFile(caA, join(dir, 'a.pem'));
    await copyFile(caB, join(dir, 'b.pem'));
    const both = await msting(split, ['models', 'download', 'secure'], { SSL_CERT_DIR: dir });
    expect(both.stderr).not.toContain('error');
    expect(both.code).toBe(0);
  });

  it('tunnels HTTPS through HTTPS_PROXY with CONNECT, to the hub and to the storage host', async () => {
    const proxy = await startProxy();
    try {
      const run = await msting(hub, ['models', 'download', 'secure'], { SSL_CERT_FILE: caA, HTTPS_PROXY: proxy.url });
      expect(run.stderr).not.toContain('error');
      expect(run.code).toBe(0);
      expect(proxy.seen).toContain(`CONNECT ${new URL(hub.url).host}`);
      expect(proxy.seen).toContain(`CONNECT ${new URL(hub.storageUrl).host}`);
    } finally {
      await proxy.close();
    }
  });

  it('stops before any request when SSL_CERT_FILE names a file that is not there (exit 4)', async () => {
    hub.resetStats();
    const run = await msting(hub, ['models', 'download', 'secure'], { SSL_CERT_FILE: join(work.dir, 'no-such-ca.pem') });
    expect(run.code).toBe(4);
    expect(run.stderr).toContain(`SSL_CERT_FILE names ${join(work.dir, 'no-such-ca.pem')}, which cannot be read (ENOENT)`);
    expect(hub.stats.requests).toEqual([]);
  });
});
