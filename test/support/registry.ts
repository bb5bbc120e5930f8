/**
 * A private Docker registry for tests: Debian's `docker-registry` (the CNCF distribution
 * server), started on a free port with its own storage directory, optionally behind htpasswd
 * (bcrypt) authentication, and stopped again. msting does not ship it; CI installs it
 * (scripts/ensure-test-tools.sh). The Docker engine allows plain HTTP to registries on
 * 127.0.0.0/8, so pushes and pulls need no TLS there; a test bed on another address passes `host`
 * and makes the engine trust it (insecure-registries) itself.
 *
 *   const registry = await startRegistry();                       // registry.address: 127.0.0.1:PORT
 *   const locked = await startRegistry({ auth: { user: 'ci', password: 'pw' } });   // answers 401
 *   await registry.stop();
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePorts } from './docker.js';

export interface RegistryOptions {
  /** Require these credentials (HTTP basic over htpasswd; without them the registry answers 401). */
  auth?: { user: string; password: string };
  /** Address to listen on (default 127.0.0.1). */
  host?: string;
  /** Port (default: a free one). */
  port?: number;
}

export interface TestRegistry {
  /** `host:port`, what images.registry and `docker push` name. */
  address: string;
  /** Storage, config and log of this registry. */
  dir: string;
  stop(): Promise<void>;
}

const BINARY = 'docker-registry';

/** Why no test registry can start here (docker-registry or htpasswd missing), or null. */
export function registrySkipReason(needAuth = true): string | null {
  let reason: string | null = null;
  if (spawnSync(BINARY, ['--version'], { stdio: 'ignore' }).error) reason = `${BINARY} is not installed (apt-get install docker-registry)`;
  else if (needAuth && spawnSync('htpasswd', ['-h'], { stdio: 'ignore' }).error) reason = 'htpasswd is not installed (apt-get install apache2-utils)';
  // CI installs both (scripts/ensure-registry.sh): there a missing one fails the run instead of skipping.
  const ci = process.env.CI;
  if (reason !== null && ci !== undefined && ci !== '' && ci !== 'false' && ci !== '0') throw new Error(`the registry tests need it under CI: ${reason}`);
  return reason;
}

/** A bcrypt htpasswd line; the password goes to htpasswd on stdin, never in argv. */
async function htpasswdLine(user: string, password: string): Promise<string> {
  const child = execFile('htpasswd', ['-iBn', user]);
  child.stdin!.end(password);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 0) throw new Error(`htpasswd exited ${code}`);
  return out.trim();
}

/** Poll `/v2/` until the registry answers (200, or 401 behind auth), the process dies, or 20 s pass. */
async function waitReady(address: string, child: ChildProcess, log: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${BINARY} exited ${child.exitCode}: ${readFileSync(log, 'utf8').slice(-2000)}`);
    const status = await fetch(`http://${address}/v2/`, { signal: AbortSignal.timeout(1000) }).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200 || status === 401) return;
    if (Date.now() > deadline) throw new Error(`${BINARY} did not answer on ${address} within 20 s: ${readFileSync(log, 'utf8').slice(-2000)}`);
    await sleep(100);
  }
}

export async function startRegistry(options: RegistryOptions = {}): Promise<TestRegistry> {
  const host = options.host ?? '127.0.0.1';
  const dir = await mkdtemp(join(tmpdir(), 'msting-registry-'));
  const config: Record<string, unknown> = {
    version: 0.1,
    log: { level: 'warn', accesslog: { disabled: true } },
    storage: { filesystem: { rootdirectory: join(dir, 'data') }, delete: { enabled: true } },
    http: { addr: '' },
  };
  if (options.auth) {
    await writeFile(join(dir, 'htpasswd'), `${await htpasswdLine(options.auth.user, options.auth.password)}\n`, { mode: 0o600 });
    config.auth = { htpasswd: { realm: 'msting-test', path: join(dir, 'htpasswd') } };
  }
  // A free port can be taken between the probe and the bind: try again on another.
  for (let attempt = 0; ; attempt++) {
    const port = options.port ?? (await freePorts(1))[0]!;
    const address = `${host}:${port}`;
    (config.http as { addr: string }).addr = address;
    // JSON is YAML: the registry reads it as its config file.
    await writeFile(join(dir, 'config.yml'), JSON.stringify(config));
    const log = join(dir, 'registry.log');
    const fd = openSync(log, 'w');
    const child = spawn(BINARY, ['serve', join(dir, 'config.yml')], { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    // Never outlive the test process, even when its teardown did not run.
    const orphanGuard = (): void => void child.kill('SIGKILL');
    process.once('exit', orphanGuard);
    try {
      await waitReady(address, child, log);
    } catch (err) {
      child.kill('SIGKILL');
      process.removeListener('exit', orphanGuard);
      if (attempt < 2 && options.port === undefined && /address already in use/.test(String(err))) continue;
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
    return {
      address,
      dir,
      async stop() {
        process.removeListener('exit', orphanGuard);
        if (child.exitCode === null) {
          const exited = new Promise((resolve) => child.once('exit', resolve));
          child.kill('SIGTERM');
          const killed = await Promise.race([exited.then(() => true), sleep(5000).then(() => false)]);
          if (!killed) child.kill('SIGKILL');
        }
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
}

/** Manifests under a repository's tag, straight from the registry's HTTP API (null: no such tag). */
export async function registryDigest(address: string, repository: string, tag: string): Promise<string | null> {
  const res = await fetch(`http://${address}/v2/${repository}/manifests/${tag}`, {
    method: 'HEAD',
    headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json' },
  });
  return res.ok ? res.headers.get('docker-content-digest') : null;
}
