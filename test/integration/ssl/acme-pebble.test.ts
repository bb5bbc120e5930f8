import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * `msting setup-ssl --domain D --email E` against Pebble, a local ACME test CA, with real HTTP-01
 * validation: pebble-challtestsrv answers every DNS query with 127.0.0.1, Pebble's validation
 * authority looks the domain up there and fetches the challenge from msting's own standalone
 * listener on a loopback port. Pebble's API certificate comes from a throwaway CA that only the
 * msting process trusts (NODE_EXTRA_CA_CERTS).
 *
 * Pebble is installed with apt-get when missing (as root); without it the test is skipped with
 * the reason, or fails when CI is set.
 */

const root = resolve(import.meta.dirname, '../../..');
const cli = join(root, 'bin', 'msting.js');
const domain = 'sting.example.com';
const project = `msting-ssl-it-${process.pid}`;

function which(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Pebble on PATH, installing the Debian package when possible; the reason when not. */
function ensurePebble(): string | undefined {
  if (which('pebble') && which('pebble-challtestsrv')) return undefined;
  if (process.getuid?.() !== 0) return 'pebble is not installed and installing it needs root (apt-get install pebble)';
  if (!which('apt-get')) return 'pebble is not installed and there is no apt-get to install it';
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'pebble'], { env, encoding: 'utf8' });
  if (r.status !== 0) {
    spawnSync('apt-get', ['update'], { env, stdio: 'ignore' });
    r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'pebble'], { env, encoding: 'utf8' });
  }
  if (r.status !== 0) return `apt-get install pebble failed: ${(r.stderr || r.stdout).trim().split('\n').at(-1)}`;
  return which('pebble') && which('pebble-challtestsrv') ? undefined : 'the pebble package did not provide pebble and pebble-challtestsrv';
}

const missing = ensurePebble();
const ci = Boolean(process.env.CI) && process.env.CI !== 'false' && process.env.CI !== '0';
if (missing && ci) throw new Error(`the ACME integration test needs Pebble: ${missing}`);
if (missing) console.warn(`skipping the ACME integration test: ${missing}`);

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

function waitForPort(port: number, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 20_000;
  return new Promise((res, rej) => {
    const attempt = () => {
      if (child.exitCode !== null) return rej(new Error(`exited early: ${log()}`));
      const sock = connect(port, '127.0.0.1');
      sock.once('connect', () => {
        sock.destroy();
        res();
      });
      sock.once('error', () => {
        sock.destroy();
        if (Date.now() > deadline) rej(new Error(`port ${port} never opened: ${log()}`));
        else setTimeout(attempt, 100);
      });
    };
    attempt();
  });
}

/** NDJSON events (one line each), then the result document (indented, so over several lines). */
function parseJson(stdout: string): { events: Record<string, unknown>[]; result: Record<string, unknown> } {
  const lines = stdout.split('\n');
  const start = lines.indexOf('{');
  return {
    events: lines.slice(0, start).filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>),
    result: JSON.parse(lines.slice(start).join('\n')) as Record<string, unknown>,
  };
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe.skipIf(missing !== undefined)('setup-ssl against the Pebble ACME test CA', () => {
  let work: string;
  let home: string;
  let pebbleCaPem: string;
  let directoryUrl: string;
  let managementUrl: string;
  let httpPort: number;
  const children: ChildProcess[] = [];
  const logs = new Map<string, string>();

  function start(name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    logs.set(name, '');
    const add = (d: Buffer) => logs.set(name, (logs.get(name) ?? '') + d.toString());
    child.stdout!.on('data', add);
    child.stderr!.on('data', add);
    children.push(child);
    return child;
  }

  /** GET over TLS trusting only the throwaway CA (used for Pebble's management API). */
  async function fetchPebble(url: string): Promise<string> {
    const { request } = await import('node:https');
    return new Promise((res, rej) => {
      request(url, { ca: pebbleCaPem }, (r) => {
        let body = '';
        r.on('data', (d: Buffer) => (body += d.toString()));
        r.on('end', () => (r.statusCode === 200 ? res(body) : rej(new Error(`${url}: HTTP ${r.statusCode}`))));
      })
        .on('error', rej)
        .end();
    });
  }

  function msting(args: string[]): Promise<Run> {
    return new Promise((res, rej) => {
      const child = spawn(process.execPath, [cli, '--home', home, ...args], {
        env: { ...process.env, NODE_EXTRA_CA_CERTS: join(work, 'pebble-api-ca.pem'), MSTING_ACME_DIRECTORY: directoryUrl, NO_COLOR: '1', VAULT_ADDR: '', VAULT_TOKEN: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', rej);
      child.on('exit', (code) => res({ code: code ?? -1, stdout, stderr }));
    });
  }

  beforeAll(async () => {
    if (!existsSync(join(root, 'dist', 'cli.js'))) throw new Error('build msting first: npm run build');
    work = await mkdtemp(join(tmpdir(), 'msting-acme-it-'));
    home = join(work, 'home');
    await mkdir(join(home, 'conf'), { recursive: true });
    await writeFile(join(home, 'conf', 'config.yml'), ['project:', `  name: ${project}`, `hostname: ${domain}`, ''].join('\n'));

    // A throwaway CA and a certificate for Pebble's HTTPS API on 127.0.0.1.
    const ssl = (args: string[]) => execFileSync('openssl', args, { cwd: work, stdio: ['ignore', 'ignore', 'pipe'] });
    ssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'api-ca.key', '-out', 'pebble-api-ca.pem', '-days', '2', '-subj', '/CN=msting test Pebble API CA']);
    ssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'api.key', '-out', 'api.csr', '-subj', '/CN=localhost']);
    await writeFile(join(work, 'api.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
    ssl(['x509', '-req', '-in', 'api.csr', '-CA', 'pebble-api-ca.pem', '-CAkey', 'api-ca.key', '-CAcreateserial', '-out', 'api.crt', '-days', '2', '-extfile', 'api.ext']);
    pebbleCaPem = await readFile(join(work, 'pebble-api-ca.pem'), 'utf8');

    const [apiPort, mgmtPort, dnsPort, port, chalMgmt] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
    httpPort = port;
    directoryUrl = `https://127.0.0.1:${apiPort}/dir`;
    managementUrl = `https://127.0.0.1:${mgmtPort}`;
    await writeFile(
      join(work, 'pebble.json'),
      JSON.stringify({
        pebble: {
          listenAddress: `127.0.0.1:${apiPort}`,
          managementListenAddress: `127.0.0.1:${mgmtPort}`,
          certificate: join(work, 'api.crt'),
          privateKey: join(work, 'api.key'),
          httpPort,
          tlsPort: await freePort(),
          ocspResponderURL: '',
          externalAccountBindingRequired: false,
        },
      }),
    );
    // Every name resolves to 127.0.0.1 (no AAAA answer, so the VA dials IPv4 only).
    const dns = start('pebble-challtestsrv', 'pebble-challtestsrv', ['-dns01', `127.0.0.1:${dnsPort}`, '-http01', '', '-https01', '', '-tlsalpn01', '', '-management', `127.0.0.1:${chalMgmt}`, '-defaultIPv4', '127.0.0.1', '-defaultIPv6', '']);
    await waitForPort(chalMgmt, dns, () => logs.get('pebble-challtestsrv') ?? '');
    const pebble = start('pebble', 'pebble', ['-config', join(work, 'pebble.json'), '-dnsserver', `127.0.0.1:${dnsPort}`], {
      ...process.env,
      PEBBLE_VA_NOSLEEP: '1',
      PEBBLE_WFE_NONCEREJECT: '0',
      PEBBLE_AUTHZREUSE: '0',
    });
    await waitForPort(apiPort, pebble, () => logs.get('pebble') ?? '');
  });

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('obtains a certificate by HTTP-01 and installs it where the frontend reads it', async () => {
    const r = await msting(['setup-ssl', '--domain', domain, '--email', 'ops@example.com', '--http-port', String(httpPort), '--json']);
    expect(r.code, `${r.stderr}\n--- pebble ---\n${logs.get('pebble')}`).toBe(0);
    const { events, result } = parseJson(r.stdout);
    expect(events.length).toBeGreaterThan(0);
    expect(events.every((e) => e.event === 'acme')).toBe(true);
    expect(result).toMatchObject({ kind: 'acme', domain, account_created: true, certificate: join(home, 'certs', 'server.crt'), key: join(home, 'certs', 'server.key') });
    // The challenge really was fetched from msting's listener.
    expect(logs.get('pebble')).toMatch(new RegExp(`${domain.replace(/\./g, '\\.')}.*/\\.well-known/acme-challenge/`, 's'));

    const keyStat = await stat(join(home, 'certs', 'server.key'));
    expect(keyStat.mode & 0o777).toBe(0o600);
    expect((await stat(join(home, 'secrets', 'acme-account.key'))).mode & 0o777).toBe(0o600);

    const chainPem = await readFile(join(home, 'certs', 'server.crt'), 'utf8');
    const pems = chainPem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    expect(pems.length).toBeGreaterThanOrEqual(2);
    const leaf = new X509Certificate(pems[0]!);
    expect(leaf.subjectAltName).toContain(`DNS:${domain}`);
    expect(leaf.checkPrivateKey(createPrivateKey(await readFile(join(home, 'certs', 'server.key'), 'utf8')))).toBe(true);

    // The leaf chains to Pebble's issuing intermediate, which chains to Pebble's root.
    const intermediate = new X509Certificate(await fetchPebble(`${managementUrl}/intermediates/0`));
    const rootCa = new X509Certificate(await fetchPebble(`${managementUrl}/roots/0`));
    expect(leaf.checkIssued(intermediate)).toBe(true);
    expect(leaf.verify(intermediate.publicKey)).toBe(true);
    expect(intermediate.verify(rootCa.publicKey)).toBe(true);
    expect(new X509Certificate(pems[1]!).fingerprint256).toBe(intermediate.fingerprint256);
  });

  it('renews with the same account and replaces the certificate', async () => {
    const before = await readFile(join(home, 'certs', 'server.crt'), 'utf8');
    const r = await msting(['setup-ssl', '--domain', domain, '--email', 'ops@example.com', '--http-port', String(httpPort), '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(parseJson(r.stdout).result).toMatchObject({ kind: 'acme', account_created: false });
    expect(await readFile(join(home, 'certs', 'server.crt'), 'utf8')).not.toBe(before);
  });

  it('setup-ssl --renew does nothing while the certificate is far from its end, and orders again once it is due', async () => {
    expect((await stat(join(home, 'secrets', 'acme-renewal.json'))).mode & 0o777).toBe(0o600);
    const before = await readFile(join(home, 'certs', 'server.crt'), 'utf8');
    const idle = await msting(['setup-ssl', '--renew', '--json']);
    expect(idle.code, idle.stderr).toBe(0);
    expect(parseJson(idle.stdout).result).toMatchObject({ kind: 'acme', domain, renewed: false });
    expect(await readFile(join(home, 'certs', 'server.crt'), 'utf8')).toBe(before);
    const plain = await msting(['setup-ssl', '--renew']);
    expect(plain.stdout).toMatch(new RegExp(`no renewal due: the certificate for ${domain.replace(/\./g, '\\.')} is valid until \\d{4}-\\d{2}-\\d{2}`));

    // A certificate 5 days from its end is due.
    const ssl = (args: string[]) => execFileSync('openssl', args, { cwd: work, stdio: ['ignore', 'ignore', 'pipe'] });
    ssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(home, 'certs', 'server.key'), '-out', join(home, 'certs', 'server.crt'), '-days', '5', '-subj', `/CN=${domain}`, '-addext', `subjectAltName=DNS:${domain}`]);
    const due = await msting(['setup-ssl', '--renew', '--json']);
    expect(due.code, `${due.stderr}\n--- pebble ---\n${logs.get('pebble')}`).toBe(0);
    expect(parseJson(due.stdout).result).toMatchObject({ kind: 'acme', domain, renewed: true, account_created: false });
    const leaf = new X509Certificate((await readFile(join(home, 'certs', 'server.crt'), 'utf8')).match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/)![0]);
    expect(new Date(leaf.validTo).getTime() - Date.now()).toBeGreaterThan(30 * 86_400_000);
    expect(leaf.issuer).not.toContain(`CN=${domain}`);
  });
});
