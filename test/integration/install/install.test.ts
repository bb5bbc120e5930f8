import { execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runInstalledCli, type CliRun } from '../../support/cli.js';
import { freePortBlock } from '../../support/docker.js';
import { stackImages, writeStackHome } from '../../support/stack-home.js';
import { SECRET_SPECS } from '../../../src/stack/secrets.js';

/**
 * The built CLI against the real engine: `msting install` of the default profile with local test
 * images (real PostgreSQL and Redis, the Vault emulator as a container, stand-ins for the rest),
 * interrupted half-way and resumed; status; update recreating only what a config change touched;
 * an update whose new image fails its health check, rolled back; doctor's bundle searched for
 * every secret; uninstall --purge.
 */

const project = `msting-it-${process.pid}`;
const base = await freePortBlock(20);
const messagingImage = `msting-it/messaging:${process.pid}`;

let work: string;
let home: string;
let images: { busybox: string; debian: string; vault: string };

function msting(args: string[], onSpawn?: (child: ChildProcess) => void): Promise<CliRun> {
  return runInstalledCli(home, work, args, onSpawn);
}

function docker(args: string[]): string {
  return execFileSync('docker', args, { encoding: 'utf8' }).trim();
}

/** service → container id of the project's containers. */
function containerIds(): Map<string, string> {
  const lines = docker(['ps', '-a', '--filter', `label=com.docker.compose.project=${project}`, '--format', '{{.Label "com.docker.compose.service"}} {{.ID}}']);
  return new Map(lines.split('\n').filter(Boolean).map((l) => l.split(' ') as [string, string]));
}

function logLines(): Promise<Record<string, unknown>[]> {
  return readFile(join(home, 'logs', 'msting.log'), 'utf8').then((t) => t.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>));
}

beforeAll(async () => {
  images = stackImages();
  docker(['tag', images.busybox, messagingImage]);
  ({ work, home } = await writeStackHome({
    prefix: 'msting-install-it-',
    project,
    basePort: base,
    images,
    overrides: { messaging: messagingImage },
    // messaging's start period is short so that a broken image is found unhealthy quickly.
    startPeriod: (s: string) => (s === 'messaging' ? 3 : 60),
  }));
}, 600_000);

afterAll(async () => {
  if (home && existsSync(home)) await msting(['uninstall', '--purge', '--yes']).catch(() => undefined);
  for (const id of containerIds().values()) execFileSync('docker', ['rm', '-f', id], { stdio: 'ignore' });
  execFileSync('docker', ['rmi', '-f', messagingImage, `${messagingImage}-broken`], { stdio: 'ignore' });
  if (work) await rm(work, { recursive: true, force: true });
});

describe('msting install, update, doctor and uninstall on the real engine', () => {
  it('--dry-run prints the plan and creates nothing', async () => {
    const before = (await readdir(home)).sort();
    const r = await msting(['install', '--dry-run', '--skip-models']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/run\s+vault\s+start Vault/);
    expect(r.stdout).toMatch(/skip\s+models.*--skip-models/);
    expect((await readdir(home)).sort()).toEqual(before);
  });

  it('an install interrupted with SIGINT half-way completes on the next run without redoing finished steps', async () => {
    let sent = false;
    const first = await msting(['install', '--yes', '--skip-models'], (child) => {
      child.stderr!.on('data', (d: Buffer) => {
        if (!sent && d.toString().includes('▸ database')) {
          sent = true;
          child.kill('SIGINT');
        }
      });
    });
    expect(sent, first.stderr).toBe(true);
    expect(first.code, first.stderr).toBe(130);
    const interrupted = JSON.parse(await readFile(join(home, 'state.json'), 'utf8')) as { completed_at: string | null; steps: Record<string, { status: string }> };
    expect(interrupted.completed_at).toBeNull();
    for (const step of ['preflight', 'certificates', 'images', 'vault', 'secrets']) expect(interrupted.steps[step]?.status).toBe('done');
    expect(interrupted.steps.services).toBeUndefined();

    const second = await msting(['install', '--yes', '--skip-models']);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/STING-CE is installed \(profile default\)/);
    expect(second.stdout).toMatch(/vault-unseal-keys\.json/);
    const log = await logLines();
    // Runs of the install steps (each command's audit line is a run of its own).
    const runs = [...new Set(log.filter((l) => l.event === 'step').map((l) => l.run))];
    const last = log.filter((l) => l.run === runs.at(-1) && l.event === 'step');
    const outcome = (step: string) => last.filter((l) => l.step === step).map((l) => l.state);
    for (const step of ['certificates', 'images', 'vault', 'secrets']) expect(outcome(step), step).toEqual(['checking', 'skipped']);
    expect(outcome('services')).toContain('done');
    const state = JSON.parse(await readFile(join(home, 'state.json'), 'utf8')) as { completed_at: string | null };
    expect(state.completed_at).not.toBeNull();

    const status = await msting(['--json', 'status']);
    expect(status.code, status.stderr).toBe(0);
    const report = JSON.parse(status.stdout) as { healthy: boolean; services: { service: string; ok: boolean }[] };
    expect(report.healthy).toBe(true);
    expect(report.services.filter((s) => !s.ok)).toEqual([]);
    expect(report.services.map((s) => s.service)).toEqual(expect.arrayContaining(['vault', 'db', 'redis', 'kratos', 'app', 'frontend']));
  });

  it('update after a config change recreates only the affected service', async () => {
    const before = containerIds();
    expect((await msting(['config', 'set', 'resources.redis.memory', '300m'])).code).toBe(0);
    const plan = await msting(['--json', 'update', '--plan']);
    expect(plan.code, plan.stderr).toBe(0);
    expect((JSON.parse(plan.stdout) as { changes: { service: string; reasons: string[] }[] }).changes).toEqual([expect.objectContaining({ service: 'redis', reasons: ['config'] })]);

    const r = await msting(['update']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/updated 1 service: redis/);
    expect(r.stderr).toMatch(/backup written: .*\.tar\.enc/);
    const after = containerIds();
    for (const [service, id] of before) {
      if (service === 'redis') expect(after.get(service)).not.toBe(id);
      else expect(after.get(service), service).toBe(id);
    }
    expect(docker(['inspect', '-f', '{{.State.Health.Status}}', after.get('redis')!])).toBe('healthy');
  });

  it('an update whose new image fails its health check is rolled back to the previous image', async () => {
    const oldId = docker(['image', 'inspect', '-f', '{{.Id}}', messagingImage]);
    const ctxDir = join(work, 'broken-image');
    await mkdir(ctxDir, { recursive: true });
    await writeFile(join(ctxDir, 'Dockerfile'), `FROM ${images.busybox}\nENV STANDIN_HEALTH=fail\n`);
    execFileSync('docker', ['build', '-q', '-t', `${messagingImage}-broken`, ctxDir], { stdio: 'ignore', env: { ...process.env, DOCKER_BUILDKIT: '0' } });
    // A "newer" image under the same tag, as a pull would bring.
    docker(['tag', `${messagingImage}-broken`, messagingImage]);
    const before = containerIds();

    const r = await msting(['update', '--no-backup', '--timeout', '60']);
    expect(r.code, r.stdout).toBe(5);
    expect(r.stderr).toMatch(/messaging did not come up healthy after the update and was rolled back/);
    const after = containerIds();
    const id = after.get('messaging')!;
    expect(id).not.toBe(before.get('messaging'));
    expect(docker(['inspect', '-f', '{{.Image}}', id])).toBe(oldId);
    expect(docker(['inspect', '-f', '{{.State.Health.Status}}', id])).toBe('healthy');
    expect(docker(['image', 'inspect', '-f', '{{.Id}}', messagingImage])).toBe(oldId);
    for (const [service, cid] of before) if (service !== 'messaging') expect(after.get(service), service).toBe(cid);
  });

  it('doctor --bundle contains no secret value', async () => {
    const bundle = join(work, 'support.tar.gz');
    const r = await msting(['doctor', '--bundle', bundle]);
    expect(r.stdout).toMatch(/support bundle \(secrets redacted\)/);
    const out = join(work, 'bundle');
    await mkdir(out, { recursive: true });
    execFileSync('tar', ['-xzf', bundle, '-C', out]);
    const files: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      for (const e of await readdir(dir, { withFileTypes: true })) {
        if (e.isDirectory()) await walk(join(dir, e.name));
        else files.push(join(dir, e.name));
      }
    };
    await walk(out);
    expect(files.some((f) => f.endsWith('env/db.env'))).toBe(true);
    const text = (await Promise.all(files.map((f) => readFile(f, 'utf8')))).join('\n');

    // Every generated secret, read from Vault with msting's admin token, and everything in secrets/.
    const token = (await readFile(join(home, 'secrets', 'vault-admin-token'), 'utf8')).trim();
    const secrets = new Set<string>();
    for (const spec of SECRET_SPECS) {
      const res = await fetch(`http://127.0.0.1:${base}/v1/sting/data/${spec.path}`, { headers: { 'X-Vault-Token': token } });
      if (res.status !== 200) continue;
      const value = ((await res.json()) as { data: { data: Record<string, string> } }).data.data[spec.key];
      if (value) secrets.add(value);
    }
    expect(secrets.size).toBeGreaterThanOrEqual(10);
    secrets.add(token);
    const shares = JSON.parse(await readFile(join(home, 'secrets', 'vault-unseal-keys.json'), 'utf8')) as { keys_base64: string[] };
    for (const s of shares.keys_base64) secrets.add(s);
    const leaked = [...secrets].filter((s) => text.includes(s));
    expect(leaked.length, 'secret values found in the bundle').toBe(0);
    expect(text).toMatch(/\[redacted\]/);
  });

  it('reset-auth recreates the Kratos database empty and leaves the others alone', async () => {
    const db = containerIds().get('db')!;
    const psql = (database: string, sql: string) => docker(['exec', db, 'psql', '--no-psqlrc', '-v', 'ON_ERROR_STOP=1', '-tA', '-U', 'postgres', '-d', database, '-c', sql]);
    // A stand-in identity in the Kratos database, and a row in the app's that must survive.
    psql('kratos', 'CREATE TABLE it_marker (id int); INSERT INTO it_marker VALUES (1); ALTER TABLE it_marker OWNER TO kratos_user;');
    psql('sting_app', 'CREATE TABLE it_keep (id int); INSERT INTO it_keep VALUES (7);');
    const before = containerIds();

    const refused = await msting(['reset-auth']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/--yes/);
    expect(psql('kratos', "SELECT count(*) FROM pg_tables WHERE tablename = 'it_marker'")).toBe('1');

    const r = await msting(['reset-auth', '--yes', '--json', '--timeout', '240']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/"reset": "kratos"/);
    expect(psql('kratos', "SELECT count(*) FROM pg_tables WHERE tablename = 'it_marker'")).toBe('0');
    // Made again as the init script made it: owned by the kratos role, which can still log in to it.
    expect(psql('postgres', "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'kratos'")).toBe('kratos_user');
    expect(psql('sting_app', 'SELECT id FROM it_keep')).toBe('7');
    // Compose may recreate kratos (its job ran again); either way one kratos runs, healthy.
    const after = containerIds();
    expect(after.get('db')).toBe(before.get('db'));
    expect(docker(['inspect', '-f', '{{.State.Status}} {{.State.Health.Status}}', after.get('kratos')!])).toBe('running healthy');
    expect(docker(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', after.get('kratos-migrate')!])).toBe('exited 0');
  });

  it('uninstall keeps the data; --purge removes containers, volumes and the install directory', async () => {
    const r = await msting(['uninstall']);
    expect(r.code, r.stderr).toBe(0);
    expect(containerIds().size).toBe(0);
    expect(docker(['volume', 'ls', '-q', '--filter', `label=com.docker.compose.project=${project}`])).not.toBe('');
    expect(existsSync(join(home, 'conf', 'config.yml'))).toBe(true);
    const purge = await msting(['uninstall', '--purge', '--yes']);
    expect(purge.code, purge.stderr).toBe(0);
    expect(docker(['volume', 'ls', '-q', '--filter', `label=com.docker.compose.project=${project}`])).toBe('');
    expect(existsSync(home)).toBe(false);
  });
});
