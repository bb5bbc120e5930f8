import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, truncate, writeFile, copyFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The whole cycle on a real engine, through the built binary: a compose project labelled as
 * msting renders it (db + redis + an uploads volume), rows written, `backup --encrypt`, volumes
 * destroyed, `restore`, rows read back; then each way an archive can be bad, refused with its own
 * message while the running stack stays as it was.
 */

const root = resolve(import.meta.dirname, '../../..');
const bin = join(root, 'bin/msting.js');
const images = JSON.parse(readFileSync(join(root, '.cache/test-images.json'), 'utf8')) as { debian: string };
const project = `mstbk${randomBytes(3).toString('hex')}`;
const PASSPHRASE = 'correct horse battery staple';

const md5 = (s: string): string => createHash('md5').update(s).digest('hex');

let home: string;
let passFile: string;
let composeFile: string;

function msting(args: string[], env: NodeJS.ProcessEnv = {}): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, '--home', home, ...args], { encoding: 'utf8', env: { ...process.env, CI: '1', ...env }, timeout: 240_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function compose(...args: string[]): string {
  return execFileSync('docker', ['compose', '-p', project, '-f', composeFile, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function psql(sql: string, db = 'sting_app'): string {
  return execFileSync('docker', ['compose', '-p', project, '-f', composeFile, 'exec', '-T', '-u', 'postgres', 'db', 'psql', '-XAt', '-U', 'postgres', '-d', db, '-c', sql], {
    encoding: 'utf8',
  }).trim();
}

function inService(service: string, ...cmd: string[]): string {
  return execFileSync('docker', ['compose', '-p', project, '-f', composeFile, 'exec', '-T', service, ...cmd], { encoding: 'utf8' }).trim();
}

function lastEvent(stdout: string): Record<string, unknown> {
  const lines = stdout.trim().split('\n').filter(Boolean);
  return JSON.parse(lines.at(-1)!) as Record<string, unknown>;
}

function runningServices(): string[] {
  return compose('ps', '--status', 'running', '--services').trim().split('\n').filter(Boolean).sort();
}

const COMPOSE = (image: string): string => `
services:
  db:
    image: ${image}
    environment:
      POSTGRES_PASSWORD: not-a-real-secret
    volumes: [postgres_data:/var/lib/postgresql/data]
    healthcheck: { test: ["CMD-SHELL", "pg_isready -U postgres -h 127.0.0.1"], interval: 1s, timeout: 5s, retries: 60 }
  redis:
    image: ${image}
    command: ["redis-server", "--appendonly", "yes"]
    volumes: [redis_data:/data]
    healthcheck: { test: ["CMD", "redis-cli", "ping"], interval: 1s, timeout: 5s, retries: 60 }
  app:
    image: ${image}
    command: ["sleep", "infinity"]
    volumes: [uploads:/app/uploads]
volumes:
  postgres_data: {}
  redis_data: {}
  uploads: {}
`;

describe.skipIf(!existsSync(join(root, 'dist/cli.js')))('backup and restore on a real engine', () => {
  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'msting-backup-'));
    await mkdir(join(home, 'conf'), { recursive: true });
    await mkdir(join(home, 'compose'), { recursive: true });
    composeFile = join(home, 'compose', 'docker-compose.yml');
    await writeFile(join(home, 'conf', 'config.yml'), `project:\n  name: ${project}\nimages:\n  overrides:\n    db: ${images.debian}\n`);
    await writeFile(composeFile, COMPOSE(images.debian));
    passFile = join(home, 'pass.txt');
    await writeFile(passFile, `${PASSPHRASE}\n`, { mode: 0o600 });
    compose('up', '-d', '--wait');
    psql('CREATE DATABASE sting_app', 'postgres');
    psql("CREATE TABLE notes (id int primary key, body text); INSERT INTO notes SELECT g, 'note ' || g || ' ' || md5(g::text) FROM generate_series(1, 100000) g");
    inService('redis', 'redis-cli', 'SET', 'session:42', 'alive');
    inService('app', 'sh', '-c', 'echo "user upload" > /app/uploads/report.txt && chown 1000:1000 /app/uploads/report.txt && chmod 640 /app/uploads/report.txt');
  });

  afterAll(async () => {
    try {
      compose('down', '-v', '--remove-orphans');
    } catch {
      // Already gone.
    }
    if (home) await rm(home, { recursive: true, force: true });
  });

  let archive: string;

  it('backs up encrypted with a passphrase, and names where the key lives', () => {
    const r = msting(['--json', 'backup', '--encrypt', '--passphrase-file', passFile]);
    expect(r.code, r.stderr).toBe(0);
    // This small stack has only one of the four databases an install has; the others are named.
    expect(r.stderr).toMatch(/database kratos does not exist; it is not in this backup/);
    const result = lastEvent(r.stdout);
    expect(result.event).toBe('result');
    expect(result.encrypted).toBe(true);
    expect(result.key).toMatchObject({ kind: 'passphrase' });
    expect(result.databases).toEqual(['sting_app']);
    archive = String(result.path);
    expect(archive.endsWith('.tar.enc')).toBe(true);
    expect(readFileSync(archive).subarray(0, 8).toString('latin1')).toBe('MSTBKP\r\n');
    expect(statSync(archive).size).toBeGreaterThan(4 * 65552);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { event: string; stage?: string });
    expect(events.some((e) => e.event === 'stage' && e.stage === 'volume')).toBe(true);
    // Redis and the app were paused for their copies and are running again.
    expect(runningServices()).toEqual(['app', 'db', 'redis']);
  });

  it('verifies the archive and records the result for backup list', () => {
    const v = msting(['backup', 'verify', archive, '--passphrase-file', passFile]);
    expect(v.code, v.stderr).toBe(0);
    expect(v.stderr).toMatch(/is intact/);
    const l = msting(['--json', 'backup', 'list']);
    const listed = (JSON.parse(l.stdout) as { archives: Array<{ name: string; encrypted: boolean; lastVerified: { ok: boolean } | null }> }).archives;
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ encrypted: true, lastVerified: { ok: true } });
  });

  it('decrypts to a plain tar that lists the dumps, volumes, config and a manifest', async () => {
    const out = join(home, 'plain.tar');
    const r = msting(['backup', 'decrypt', archive, '-o', out, '--passphrase-file', passFile]);
    expect(r.code, r.stderr).toBe(0);
    const names = execFileSync('tar', ['tf', out], { encoding: 'utf8' }).trim().split('\n');
    expect(names).toEqual(expect.arrayContaining(['db/globals.sql', 'db/sting_app.dump', 'volumes/uploads/report.txt', 'config/config.yml', 'manifest.json']));
    expect(names.at(-1)).toBe('manifest.json');
    expect(names.some((n) => n.startsWith('volumes/postgres_data'))).toBe(false);
    expect(names.some((n) => n.startsWith('volumes/redis_data/'))).toBe(true);
    const manifest = JSON.parse(execFileSync('tar', ['xOf', out, 'manifest.json'], { encoding: 'utf8' })) as { postgres: { major: number }; entries: unknown[] };
    expect(manifest.postgres.major).toBe(15);
    expect(manifest.entries.length).toBeGreaterThan(3);
  });

  it('restores after the volumes were destroyed, and reads the same rows back', () => {
    compose('down', '-v');
    expect(execFileSync('docker', ['volume', 'ls', '-q', '--filter', `label=com.docker.compose.project=${project}`], { encoding: 'utf8' }).trim()).toBe('');
    const r = msting(['--yes', 'restore', archive, '--passphrase-file', passFile]);
    expect(r.code, r.stderr).toBe(0);
    expect(psql("SELECT count(*), max(body) FROM notes WHERE body LIKE 'note 99999 %'")).toBe(`1|note 99999 ${md5('99999')}`);
    expect(psql('SELECT count(*) FROM notes')).toBe('100000');
    expect(inService('redis', 'redis-cli', 'GET', 'session:42')).toBe('alive');
    expect(inService('app', 'stat', '-c', '%u:%g %a', '/app/uploads/report.txt')).toBe('1000:1000 640');
    expect(inService('app', 'cat', '/app/uploads/report.txt')).toBe('user upload');
    expect(runningServices()).toEqual(['app', 'db', 'redis']);
  });

  it('refuses a restore without a terminal and without --yes, naming --yes', () => {
    const r = msting(['restore', archive, '--passphrase-file', passFile]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--yes/);
  });

  describe('a bad archive changes nothing', () => {
    beforeAll(() => {
      psql("INSERT INTO notes VALUES (900001, 'written after the backup')");
    });

    const untouched = (): void => {
      expect(psql('SELECT body FROM notes WHERE id = 900001')).toBe('written after the backup');
      expect(runningServices()).toEqual(['app', 'db', 'redis']);
    };

    it('one flipped byte', async () => {
      const bad = join(home, 'flipped.tar.enc');
      await copyFile(archive, bad);
      const data = await readFile(bad);
      data[Math.floor(data.length / 2)]! ^= 0x01;
      await writeFile(bad, data);
      const r = msting(['--yes', 'restore', bad, '--passphrase-file', passFile]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/failed authentication: the archive is damaged or was altered/);
      untouched();
    });

    it('a truncated file, cut inside a chunk or at a chunk boundary', async () => {
      const bad = join(home, 'truncated.tar.enc');
      const header = 99; // scrypt header
      for (const [length, message] of [
        [header + 65552 * 2 + 1000, /ends inside chunk 2 .* truncated/],
        [header + 65552 * 2, /truncated: it ends after 2 chunk\(s\) without its final chunk/],
      ] as const) {
        await copyFile(archive, bad);
        await truncate(bad, length);
        const r = msting(['--yes', 'restore', bad, '--passphrase-file', passFile]);
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(message);
        expect(r.stderr).not.toMatch(/damaged or was altered/);
      }
      untouched();
    });

    it('the wrong passphrase', async () => {
      const wrong = join(home, 'wrong.txt');
      await writeFile(wrong, 'not the passphrase at all\n');
      const r = msting(['--yes', 'restore', archive, '--passphrase-file', wrong]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/wrong passphrase/);
      const v = msting(['backup', 'verify', archive, '--passphrase-file', wrong]);
      expect(v.code).toBe(1);
      untouched();
    });
  });

  it('encrypts with the backup key file by default, creating it 0600, and keeps only the newest two with --keep 2', async () => {
    const dir = join(home, 'rotating');
    const made: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = msting(['--json', 'backup', '--encrypt', '--output', dir, '--keep', '2']);
      expect(r.code, r.stderr).toBe(0);
      const result = lastEvent(r.stdout);
      expect(result.key).toMatchObject({ kind: 'key-file', location: join(home, 'secrets', 'backup.key') });
      made.push(String(result.path));
    }
    expect((await stat(join(home, 'secrets', 'backup.key'))).mode & 0o777).toBe(0o600);
    const left = (await readdir(dir)).filter((n) => n.endsWith('.tar.enc')).sort();
    expect(left).toEqual(made.slice(1).map((p) => p.split('/').at(-1)).sort());
    expect(msting(['backup', 'verify', made[2]!]).code).toBe(0);
  });

  it('fails when the database is unreachable and leaves no archive behind', async () => {
    const dir = join(home, 'failing');
    compose('stop', 'db');
    try {
      const r = msting(['backup', '--output', dir]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/database container .* is exited/);
      expect(existsSync(dir) ? await readdir(dir) : []).toEqual([]);
    } finally {
      compose('start', 'db');
    }
  });
});
