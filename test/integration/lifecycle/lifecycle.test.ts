import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { describeDocker, docker, freePorts, msting, projectResources, removeProject, testImages, uniqueProject } from '../../support/docker.js';

/**
 * The lifecycle on a real engine, through the built binary: the default profile with real
 * PostgreSQL and Redis (test/images/debian), the Vault emulator (test/vault-emulator) and
 * stand-ins for every other service (test/images/busybox), pointed at with `images.overrides` —
 * the air-gapped path a user takes. Vault is initialized the way a user without `install` does
 * it: `start vault` (which stops, naming `vault init`), then `vault init`. The compose override
 * file (which msting keeps and applies) shortens health-check intervals.
 */

const SERVICES = ['vault', 'db', 'redis', 'kratos-migrate', 'kratos', 'mailpit', 'app', 'frontend', 'messaging', 'chroma', 'knowledge'];
const PORT_KEYS = ['vault', 'db', 'kratos', 'kratos-admin', 'app', 'frontend', 'mailpit', 'mailpit-ui', 'redis', 'messaging', 'knowledge'];

interface Setup {
  home: string;
  project: string;
  ports: Record<string, number>;
}

function writeOverride(home: string, extra: Record<string, Record<string, unknown>> = {}): void {
  const services: Record<string, Record<string, unknown>> = {};
  for (const s of SERVICES.filter((s) => s !== 'kratos-migrate')) {
    services[s] = { healthcheck: { interval: '2s', timeout: '5s', start_period: '30s', retries: 3 } };
  }
  for (const [name, value] of Object.entries(extra)) services[name] = { ...services[name], ...value };
  writeFileSync(join(home, 'compose', 'docker-compose.override.yml'), stringify({ services }));
}

async function makeInstall(prefix: string): Promise<Setup> {
  const images = testImages();
  const home = mkdtempSync(join(tmpdir(), `${prefix}-`));
  const project = uniqueProject(prefix);
  const free = await freePorts(PORT_KEYS.length);
  const ports = Object.fromEntries(PORT_KEYS.map((k, i) => [k, free[i]!]));
  const overrides = Object.fromEntries(SERVICES.map((s) => [s, s === 'db' || s === 'redis' ? images.debian : s === 'vault' ? images.vault : images.busybox]));
  mkdirSync(join(home, 'conf'), { recursive: true });
  mkdirSync(join(home, 'compose'), { recursive: true });
  writeFileSync(join(home, 'conf', 'config.yml'), stringify({ project: { name: project }, images: { overrides }, ports, stop_timeout: 5 }));
  // The TLS directory the frontend mounts (`msting install` or `setup-ssl` fills it).
  mkdirSync(join(home, 'certs'), { recursive: true });
  writeOverride(home);
  const setup = { home, project, ports };
  // A new Vault: start stops after bringing it up and names `vault init`; init stores the shares
  // (start unseals with them from then on) and generates every secret the env files need.
  const first = await msting(['--home', home, 'start', 'vault', '--timeout', '120']);
  if (first.code !== 5 || !/vault init/.test(first.stderr)) throw new Error(`start vault on a new Vault: exit ${first.code}\n${first.stderr}`);
  const init = await msting(['--home', home, 'vault', 'init']);
  if (init.code !== 0) throw new Error(`vault init: exit ${init.code}\n${init.stderr}`);
  const stop = await msting(['--home', home, 'stop']);
  if (stop.code !== 0) throw new Error(`stop: exit ${stop.code}\n${stop.stderr}`);
  return setup;
}

interface StatusJson {
  healthy: boolean;
  project: string;
  services: { service: string; state: string; health: string; ok: boolean; job: boolean; container: string | null; ports: { key: string | null; host_port: number }[] }[];
  urls: Record<string, string | null>;
}

describe('lifecycle without an engine', () => {
  it('DOCKER_HOST at a missing socket: exit 4 with the hint, before anything is touched', async () => {
    const home = mkdtempSync(join(tmpdir(), 'msting-nohost-'));
    try {
      const env = { DOCKER_HOST: `unix://${join(home, 'no-such.sock')}` };
      const status = await msting(['--home', home, 'status'], { env });
      expect(status.code).toBe(4);
      expect(status.stderr).toContain('no-such.sock');
      expect(status.stderr).toMatch(/hint: DOCKER_HOST is set to unix:\/\/.*no-such\.sock/);
      const start = await msting(['--home', home, '--json', 'start'], { env });
      expect(start.code).toBe(4);
      expect(JSON.parse(start.stdout).error.code).toBe('DOCKER_UNAVAILABLE');
      // Nothing rendered, nothing created.
      expect(() => writeFileSync(join(home, 'compose', 'probe'), '')).toThrow();
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});

describeDocker('lifecycle on a real engine', () => {
  let setup: Setup;
  const cli = (...args: string[]) => msting(['--home', setup.home, ...args]);

  beforeAll(async () => {
    setup = await makeInstall('msting-life');
  });
  afterAll(async () => {
    if (!setup) return;
    await removeProject(setup.project);
    rmSync(setup.home, { recursive: true, force: true });
  });

  it('a port held by another program is reported by check-ports and blocks start (exit 4)', async () => {
    const holder: Server = createServer();
    await new Promise<void>((resolve) => holder.listen({ host: '127.0.0.1', port: setup.ports.db }, resolve));
    try {
      const check = await cli('--json', 'check-ports');
      expect(check.code).toBe(4);
      const report = JSON.parse(check.stdout) as { ok: boolean; conflicts: { keys: string[]; port: number; reason: string }[] };
      expect(report.ok).toBe(false);
      expect(report.conflicts).toEqual([expect.objectContaining({ keys: ['ports.db'], port: setup.ports.db, reason: 'in-use' })]);

      // Only the (stopped) Vault container from setting Vault up exists; a refused start adds none.
      const before = (await projectResources(setup.project)).containers;
      const start = await cli('start');
      expect(start.code).toBe(4);
      expect(start.stderr).toContain(`host port ${setup.ports.db} (ports.db, for db) is already in use`);
      expect((await projectResources(setup.project)).containers).toEqual(before);
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
    expect((await cli('check-ports')).code).toBe(0);
  });

  it('start brings the profile up in dependency order and status --json reports it healthy', async () => {
    const start = await cli('start', '--timeout', '180');
    expect(start.stderr).not.toMatch(/error:/);
    expect(start.code).toBe(0);
    // Plain mode: one line per change, dependencies before what needs them.
    const order = (line: string) => start.stderr.split('\n').findIndex((l) => l.startsWith(line));
    expect(order('db: healthy')).toBeGreaterThan(-1);
    expect(order('db: healthy')).toBeLessThan(order('kratos-migrate: starting'));
    expect(order('kratos-migrate: completed')).toBeLessThan(order('kratos: starting'));
    expect(order('app: healthy')).toBeLessThan(order('frontend: starting'));

    const status = await cli('--json', 'status');
    expect(status.code).toBe(0);
    const report = JSON.parse(status.stdout) as StatusJson;
    expect(report.project).toBe(setup.project);
    expect(report.healthy).toBe(true);
    expect(report.services.map((s) => s.service)).toEqual([...SERVICES].sort());
    const byName = Object.fromEntries(report.services.map((s) => [s.service, s]));
    expect(byName['kratos-migrate']).toMatchObject({ job: true, state: 'exited', ok: true });
    expect(byName.db).toMatchObject({ state: 'running', health: 'healthy', ok: true });
    expect(byName.db!.ports).toEqual([expect.objectContaining({ key: 'db', host_port: setup.ports.db })]);
    expect(report.urls.frontend).toBe(`https://localhost:${setup.ports.frontend}`);

    // The database is real: its init script created the service users, with the passwords Vault
    // generated and start rendered into the app's env file.
    const appEnv = readFileSync(join(setup.home, 'env', 'app.env'), 'utf8');
    const password = /^DATABASE_URL=["']?postgresql:\/\/app_user:([^@"'\n]+)@db:5432\/sting_app/m.exec(appEnv)?.[1];
    expect(password).toMatch(/^[A-Za-z0-9]{32}$/);
    const psql = await docker(['exec', '-e', `PGPASSWORD=${password}`, byName.db!.container!, 'psql', '-h', '127.0.0.1', '-U', 'app_user', '-d', 'sting_app', '-tAc', 'select current_user']);
    expect(psql).toBe('app_user');
  });

  it('starting a running stack changes nothing and says so', async () => {
    const before = await docker(['ps', '-q', '--no-trunc', '--filter', `label=com.docker.compose.project=${setup.project}`]);
    const again = await cli('start');
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('already running');
    const after = await docker(['ps', '-q', '--no-trunc', '--filter', `label=com.docker.compose.project=${setup.project}`]);
    expect(after.split('\n').sort()).toEqual(before.split('\n').sort());
  });

  it('logs --tail shows what a container printed, prefixed with its service', async () => {
    const logs = await cli('logs', '--tail', '5', 'kratos-migrate', 'db');
    expect(logs.code).toBe(0);
    expect(logs.stdout).toMatch(/^kratos-migrate \| stand-in .*: migration done$/m);
    expect(logs.stdout).toMatch(/^db +\| .*database system is ready to accept connections/m);
  });

  it('restart of redis restarts it and what depends on it, then waits until healthy', async () => {
    const restart = await cli('restart', 'redis');
    expect(restart.code).toBe(0);
    for (const s of ['redis', 'app', 'messaging', 'knowledge', 'frontend']) expect(restart.stderr).toContain(`${s}: stopping`);
    expect(restart.stderr).not.toContain('db: stopping');
    expect(restart.stderr).toMatch(/^redis: healthy/m);
    expect((await cli('status')).code).toBe(0);
  });

  it('stop stops everything, dependents first; status then exits 1', async () => {
    const stop = await cli('stop');
    expect(stop.code).toBe(0);
    const lines = stop.stderr.split('\n');
    expect(lines.findIndex((l) => l.startsWith('frontend: stopped'))).toBeLessThan(lines.findIndex((l) => l.startsWith('db: stopping')));
    const status = await cli('--json', 'status');
    expect(status.code).toBe(1);
    const report = JSON.parse(status.stdout) as StatusJson;
    expect(report.healthy).toBe(false);
    expect(report.services.find((s) => s.service === 'db')).toMatchObject({ state: 'exited', ok: false });
  });

  it('a service whose health check fails makes start exit 5, shows its logs and what it depends on, and is left for inspection', async () => {
    writeOverride(setup.home, {
      messaging: { environment: { STANDIN_HEALTH: 'fail' }, healthcheck: { interval: '1s', timeout: '5s', start_period: '1s', retries: 2 } },
    });
    const start = await cli('start', '--timeout', '120');
    expect(start.code).toBe(5);
    expect(start.stderr).toMatch(/messaging: health check failing/);
    expect(start.stderr).toContain('depends on: db (healthy), redis (healthy)');
    expect(start.stderr).toContain('health paths disabled (STANDIN_HEALTH=fail)');
    expect(start.stderr).toMatch(/error: 1 service did not come up: messaging/);
    const left = await projectResources(setup.project);
    expect(left.containers).toContain(`${setup.project}-messaging-1`);
    expect(left.volumes.length).toBeGreaterThan(0);
    writeOverride(setup.home);
  });

  it('clean --volumes refuses without a terminal or --yes, then leaves nothing of the project behind', async () => {
    const refused = await cli('clean', '--volumes');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--yes');
    expect((await projectResources(setup.project)).volumes.length).toBeGreaterThan(0);

    const clean = await cli('clean', '--volumes', '--yes');
    expect(clean.code).toBe(0);
    expect(await projectResources(setup.project)).toEqual({ containers: [], networks: [], volumes: [] });
  });
});
