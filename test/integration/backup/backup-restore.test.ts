import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { copyFile, mkdir, readFile, readdir, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runInstalledCli, type CliRun } from '../../support/cli.js';
import { freePortBlock, testImages } from '../../support/docker.js';
import { stackImages, writeStackHome } from '../../support/stack-home.js';
import { DATABASES } from '../../../src/stack/secrets.js';

/**
 * The whole cycle on a real engine, through the built binary, on msting's own stack: the default
 * profile installed with local test images (real PostgreSQL and Redis, the Vault emulator, stand-ins
 * for the rest); rows, a Redis key and an upload written; `backup --encrypt`; every container and
 * volume of the project destroyed; `restore`; the same data read back with every service healthy and
 * Vault unsealed from its restored storage. Then each way an archive can be bad, refused with its
 * own message while the running stack stays as it was.
 */

const project = `msting-bk-${process.pid}`;
const base = await freePortBlock(20);
const PASSPHRASE = 'correct horse battery staple';

const md5 = (s: string): string => createHash('md5').update(s).digest('hex');

let work: string;
let home: string;
let passFile: string;

function msting(args: string[]): Promise<CliRun> {
  return runInstalledCli(home, work, args);
}

function docker(args: string[]): string {
  return execFileSync('docker', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

const byLabel = (kind: 'ps' | 'volume'): string[] =>
  (kind === 'ps'
    ? docker(['ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`])
    : docker(['volume', 'ls', '-q', '--filter', `label=com.docker.compose.project=${project}`])
  )
    .split('\n')
    .filter(Boolean);

/** The running container of a service. */
function container(service: string): string {
  const id = docker(['ps', '-q', '--filter', `label=com.docker.compose.project=${project}`, '--filter', `label=com.docker.compose.service=${service}`]);
  if (!id) throw new Error(`no running ${service} container`);
  return id.split('\n')[0]!;
}

function runningServices(): string[] {
  const lines = docker(['ps', '--filter', `label=com.docker.compose.project=${project}`, '--filter', 'status=running', '--format', '{{.Label "com.docker.compose.service"}}']);
  return [...new Set(lines.split('\n').filter(Boolean))].sort();
}

function psql(sql: string, db = 'sting_app'): string {
  return docker(['exec', '-u', 'postgres', container('db'), 'psql', '-XAt', '-U', 'postgres', '-d', db, '-c', sql]);
}

/** redis-cli in the Redis container (no password: STING-CE's clients use none). */
function redis(...args: string[]): string {
  return docker(['exec', container('redis'), 'redis-cli', ...args]);
}

/** A shell command in the app container (which runs without capabilities: no chown, even as root). */
function inApp(script: string, user = '0'): string {
  return docker(['exec', '-u', user, container('app'), 'sh', '-c', script]);
}

/** A shell command in a throwaway container with a volume of the stack at /v. */
function inVolume(volume: string, script: string): string {
  return docker(['run', '--rm', '--network', 'none', '-v', `${volume}:/v`, '--entrypoint', 'sh', testImages().busybox, '-c', script]);
}

function lastEvent(stdout: string): Record<string, unknown> {
  const lines = stdout.trim().split('\n').filter(Boolean);
  return JSON.parse(lines.at(-1)!) as Record<string, unknown>;
}

interface StatusJson {
  healthy: boolean;
  services: { service: string; ok: boolean }[];
  vault: { state: string } | null;
}

async function status(): Promise<StatusJson> {
  const r = await msting(['--json', 'status']);
  return JSON.parse(r.stdout) as StatusJson;
}

let installedServices: string[];

beforeAll(async () => {
  ({ work, home } = await writeStackHome({ prefix: 'msting-backup-it-', project, basePort: base, images: stackImages() }));
  passFile = join(work, 'pass.txt');
  await writeFile(passFile, `${PASSPHRASE}\n`, { mode: 0o600 });

  const install = await msting(['install', '--yes', '--skip-models']);
  if (install.code !== 0) throw new Error(`install failed (${install.code}): ${install.stderr.slice(-3000)}`);
  installedServices = runningServices();

  psql("CREATE TABLE notes (id int primary key, body text); INSERT INTO notes SELECT g, 'note ' || g || ' ' || md5(g::text) FROM generate_series(1, 100000) g");
  expect(redis('SET', 'session:42', 'alive')).toBe('OK');
  // An upload owned by another user than the directory's, with its own mode.
  inApp('mkdir -m 1777 /home/sting/u1000');
  inApp('umask 027 && echo "user upload" > /home/sting/u1000/report.txt', '1000:1000');
}, 600_000);

afterAll(async () => {
  if (home && existsSync(home)) await msting(['uninstall', '--purge', '--yes']).catch(() => undefined);
  // Helper containers too: one left by a failed test would hold a volume and keep it from going.
  const containers = [...byLabel('ps'), ...docker(['ps', '-aq', '--filter', 'label=org.sting-ce.msting.helper']).split('\n').filter(Boolean)];
  if (containers.length > 0) execFileSync('docker', ['rm', '-f', ...containers], { stdio: 'ignore' });
  const volumes = byLabel('volume');
  if (volumes.length > 0) execFileSync('docker', ['volume', 'rm', '-f', ...volumes], { stdio: 'ignore' });
  execFileSync('docker', ['network', 'prune', '-f', '--filter', `label=com.docker.compose.project=${project}`], { stdio: 'ignore' });
  if (work) await rm(work, { recursive: true, force: true });
});

describe('backup and restore of an installed stack on a real engine', () => {
  let archive: string;

  it('backs up encrypted with a passphrase, and names where the key lives', async () => {
    const r = await msting(['--json', 'backup', '--encrypt', '--passphrase-file', passFile]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const result = lastEvent(r.stdout);
    expect(result.event).toBe('result');
    expect(result.encrypted).toBe(true);
    expect(result.key).toMatchObject({ kind: 'passphrase' });
    expect(result.databases).toEqual([...DATABASES]);
    archive = String(result.path);
    expect(archive.endsWith('.tar.enc')).toBe(true);
    expect(readFileSync(archive).subarray(0, 8).toString('latin1')).toBe('MSTBKP\r\n');
    expect(statSync(archive).size).toBeGreaterThan(4 * 65552);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { event: string; stage?: string });
    expect(events.some((e) => e.event === 'stage' && e.stage === 'volume')).toBe(true);
    // Redis and the services paused for their copies are running again.
    expect(runningServices()).toEqual(installedServices);
  });

  it('verifies the archive and records the result for backup list', async () => {
    const v = await msting(['backup', 'verify', archive, '--passphrase-file', passFile]);
    expect(v.code, v.stderr).toBe(0);
    expect(v.stderr).toMatch(/is intact/);
    const l = await msting(['--json', 'backup', 'list']);
    const listed = (JSON.parse(l.stdout) as { archives: Array<{ name: string; encrypted: boolean; lastVerified: { ok: boolean } | null }> }).archives;
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ encrypted: true, lastVerified: { ok: true } });
  });

  it('decrypts to a plain tar that lists the dumps, volumes (Vault storage among them), config and a manifest', async () => {
    const out = join(work, 'plain.tar');
    const r = await msting(['backup', 'decrypt', archive, '-o', out, '--passphrase-file', passFile]);
    expect(r.code, r.stderr).toBe(0);
    const names = execFileSync('tar', ['tf', out], { encoding: 'utf8' }).trim().split('\n');
    expect(names).toEqual(
      expect.arrayContaining(['db/globals.sql', 'db/sting_app.dump', 'db/kratos.dump', 'volumes/app_home/u1000/report.txt', 'config/config.yml', 'config/docker-compose.override.yml', 'manifest.json']),
    );
    expect(names.at(-1)).toBe('manifest.json');
    expect(names.some((n) => n.startsWith('volumes/postgres_data'))).toBe(false);
    expect(names.some((n) => n.startsWith('volumes/redis_data/'))).toBe(true);
    expect(names.some((n) => n.startsWith('volumes/vault_data/'))).toBe(true);
    // Vault's unseal material stays in the secrets directory unless --include-vault-keys asks for it.
    expect(names.some((n) => n.startsWith('keys/'))).toBe(false);
    const manifest = JSON.parse(execFileSync('tar', ['xOf', out, 'manifest.json'], { encoding: 'utf8' })) as { postgres: { major: number }; entries: unknown[] };
    expect(manifest.postgres.major).toBe(15);
    expect(manifest.entries.length).toBeGreaterThan(3);
    await rm(out);
  });

  it('restores after every container and volume was destroyed: same rows, Redis key and upload; every service healthy, Vault unsealed', async () => {
    const containers = byLabel('ps');
    execFileSync('docker', ['rm', '-f', '-v', ...containers], { stdio: 'ignore' });
    execFileSync('docker', ['volume', 'rm', '-f', ...byLabel('volume')], { stdio: 'ignore' });
    expect(byLabel('volume')).toEqual([]);
    expect(byLabel('ps')).toEqual([]);

    const r = await msting(['--yes', 'restore', archive, '--passphrase-file', passFile]);
    expect(r.code, r.stderr).toBe(0);
    expect(psql("SELECT count(*), max(body) FROM notes WHERE body LIKE 'note 99999 %'")).toBe(`1|note 99999 ${md5('99999')}`);
    expect(psql('SELECT count(*) FROM notes')).toBe('100000');
    expect(redis('GET', 'session:42')).toBe('alive');
    // The volume roots came back with their owners: Redis, running as its own user, can save again.
    expect(redis('SAVE')).toBe('OK');
    expect(inApp('stat -c "%u:%g %a" /home/sting/u1000/report.txt /home/sting/u1000')).toBe('1000:1000 640\n0:0 1777');
    expect(inApp('cat /home/sting/u1000/report.txt', '1000:1000')).toBe('user upload');
    expect(runningServices()).toEqual(installedServices);
    const after = await status();
    expect(after.services.filter((s) => !s.ok)).toEqual([]);
    expect(after.healthy).toBe(true);
    expect(after.vault).toMatchObject({ state: 'unsealed' });
  });

  it('refuses a restore without a terminal and without --yes, naming --yes', async () => {
    const r = await msting(['restore', archive, '--passphrase-file', passFile]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--yes/);
  });

  describe('a bad archive changes nothing', () => {
    beforeAll(() => {
      psql("INSERT INTO notes VALUES (900001, 'written after the backup')");
    });

    const untouched = (): void => {
      expect(psql('SELECT body FROM notes WHERE id = 900001')).toBe('written after the backup');
      expect(runningServices()).toEqual(installedServices);
    };

    it('one flipped byte', async () => {
      const bad = join(work, 'flipped.tar.enc');
      await copyFile(archive, bad);
      const data = await readFile(bad);
      data[Math.floor(data.length / 2)]! ^= 0x01;
      await writeFile(bad, data);
      const r = await msting(['--yes', 'restore', bad, '--passphrase-file', passFile]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/failed authentication: the archive is damaged or was altered/);
      untouched();
    });

    it('a truncated file, cut inside a chunk or at a chunk boundary', async () => {
      const bad = join(work, 'truncated.tar.enc');
      const header = 99; // scrypt header
      for (const [length, message] of [
        [header + 65552 * 2 + 1000, /ends inside chunk 2 .* truncated/],
        [header + 65552 * 2, /truncated: it ends after 2 chunk\(s\) without its final chunk/],
      ] as const) {
        await copyFile(archive, bad);
        await truncate(bad, length);
        const r = await msting(['--yes', 'restore', bad, '--passphrase-file', passFile]);
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(message);
        expect(r.stderr).not.toMatch(/damaged or was altered/);
      }
      untouched();
    });

    it('the wrong passphrase', async () => {
      const wrong = join(work, 'wrong.txt');
      await writeFile(wrong, 'not the passphrase at all\n');
      const r = await msting(['--yes', 'restore', archive, '--passphrase-file', wrong]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/wrong passphrase/);
      const v = await msting(['backup', 'verify', archive, '--passphrase-file', wrong]);
      expect(v.code).toBe(1);
      untouched();
    });
  });

  it('encrypts with the backup key file by default, creating it 0600, and keeps only the newest two with --keep 2', async () => {
    const dir = join(work, 'rotating');
    // Two older archives of this project are already there (the first test's, under older names).
    await mkdir(dir, { recursive: true });
    const older = ['20000101T000000.000Z', '20010101T000000.000Z'].map((stamp) => join(dir, archive.split('/').at(-1)!.replace(/\d{8}T\d{6}\.\d{3}Z/, stamp)));
    for (const o of older) {
      expect(o).not.toBe(join(dir, archive.split('/').at(-1)!));
      await copyFile(archive, o);
    }
    const r = await msting(['--json', 'backup', '--encrypt', '--output', dir, '--keep', '2']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const result = lastEvent(r.stdout);
    expect(result.key).toMatchObject({ kind: 'key-file', location: join(home, 'secrets', 'backup.key') });
    const made = String(result.path);
    expect((await stat(join(home, 'secrets', 'backup.key'))).mode & 0o777).toBe(0o600);
    // The oldest went; the newer of the two older ones and the new one stay.
    const left = (await readdir(dir)).filter((n) => n.endsWith('.tar.enc')).sort();
    expect(left).toEqual([older[1]!, made].map((p) => p.split('/').at(-1)).sort());
    expect((await msting(['backup', 'verify', made])).code).toBe(0);
  });

  it('fails with the dump\'s own message when pg_dump fails while the volumes are copied, leaving no archive or spool, every service running', async () => {
    const dir = join(work, 'dump-failing');
    // Every new session of sting_app now fails at start (a library that does not exist), so its
    // pg_dump fails while the other databases and the server stay fine.
    psql("ALTER DATABASE sting_app SET session_preload_libraries = 'msting_test_missing'", 'postgres');
    // knowledge_data, copied second with its service paused, gets a 2 GiB sparse file: the dump
    // fails while that copy starts or runs, seconds before it could end, and the copy is cut off.
    const big = `${project}_knowledge_data`;
    inVolume(big, 'truncate -s 2G /v/sparse.bin');
    try {
      const r = await msting(['--json', 'backup', '--output', dir]);
      expect(r.code, r.stderr).toBe(5);
      const copied = Math.max(0, ...r.stdout.split('\n').filter((l) => l.startsWith('{"event":"progress"')).map((l) => (JSON.parse(l) as { bytes: number }).bytes));
      expect(copied).toBeLessThan(1024 ** 3);
      expect(JSON.parse(r.stdout.slice(r.stdout.lastIndexOf('\n{\n') + 1))).toMatchObject({ error: { code: 'EXTERNAL', message: 'pg_dump of sting_app failed (exit 1)' } });
      expect(existsSync(dir) ? await readdir(dir) : []).toEqual([]);
      expect(runningServices()).toEqual(installedServices);
      expect(docker(['ps', '-q', '--filter', 'status=paused', '--filter', `label=com.docker.compose.project=${project}`])).toBe('');
      expect(docker(['ps', '-aq', '--filter', 'label=org.sting-ce.msting.helper'])).toBe('');
    } finally {
      psql('ALTER DATABASE sting_app RESET session_preload_libraries', 'postgres');
      inVolume(big, 'rm -f /v/sparse.bin');
    }
  });

  it('a backup killed while it copies leaves a service paused; the next backup resumes it, removes the helper and writes its archive', async () => {
    const dir = join(work, 'killed');
    const big = `${project}_knowledge_data`;
    inVolume(big, 'truncate -s 2G /v/sparse.bin');
    try {
      // Killed once the copy of that volume (its service paused) is under way.
      const killed = await runInstalledCli(home, work, ['--json', 'backup', '--output', dir], (child) => {
        let out = '';
        let copying = false;
        child.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
          copying ||= out.includes(`"stage":"volume","name":"${big}"`);
          if (copying && out.slice(out.indexOf(`"name":"${big}"`)).includes('"event":"progress"')) child.kill('SIGKILL');
        });
      });
      expect(killed.code).toBe(128);
      expect(docker(['ps', '-q', '--filter', 'status=paused', '--filter', `label=com.docker.compose.project=${project}`])).toBe(container('knowledge'));
      expect(docker(['ps', '-aq', '--filter', 'label=org.sting-ce.msting.helper'])).not.toBe('');
      inVolume(big, 'rm -f /v/sparse.bin');

      const r = await msting(['--json', 'backup', '--output', dir]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/resumed msting-bk-\d+-knowledge-1, left paused by a backup that was interrupted/);
      const result = lastEvent(r.stdout);
      expect(result.recovered).toEqual({ resumed: [expect.stringMatching(/-knowledge-1$/)], helpers: 1 });
      expect(existsSync(String(result.path))).toBe(true);
      expect(runningServices()).toEqual(installedServices);
      expect(docker(['ps', '-aq', '--filter', 'label=org.sting-ce.msting.helper'])).toBe('');
      expect((await readdir(home)).filter((n) => n.endsWith('.paused'))).toEqual([]);
    } finally {
      inVolume(big, 'rm -f /v/sparse.bin');
    }
  });

  it.skipIf(process.getuid?.() !== 0)('says the disk is full, with a hint, when the output fills up, leaving nothing behind and every service running (needs root to mount a small tmpfs)', async () => {
    const dir = join(work, 'full');
    await mkdir(dir);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', dir]);
    try {
      const r = await msting(['--json', 'backup', '--output', dir]);
      expect(r.code, r.stdout + r.stderr).toBe(1);
      // NDJSON progress, then the error document.
      expect(JSON.parse(r.stdout.slice(r.stdout.lastIndexOf('\n{\n') + 1))).toMatchObject({ error: { code: 'IO', message: `no space left in ${dir} for the archive`, hint: expect.stringMatching(/--output/) } });
      expect(await readdir(dir)).toEqual([]);
      expect(runningServices()).toEqual(installedServices);
    } finally {
      execFileSync('umount', [dir]);
    }
  });

  it('fails when the database is unreachable and leaves no archive behind', async () => {
    const dir = join(work, 'failing');
    const db = container('db');
    docker(['stop', db]);
    try {
      const r = await msting(['backup', '--output', dir]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/database container .* is exited/);
      expect(existsSync(dir) ? await readdir(dir) : []).toEqual([]);
    } finally {
      docker(['start', db]);
    }
  });
});
