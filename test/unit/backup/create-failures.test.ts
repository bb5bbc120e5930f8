import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import tar from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { createBackup } from '../../../src/backup/create.js';
import type { BackupEngine, ExecSpec, ProjectContainer, ProjectVolume } from '../../../src/docker/backup-engine.js';
import { MstingError } from '../../../src/errors.js';
import { installLayout } from '../../../src/layout.js';

const db: ProjectContainer = {
  id: 'db-id',
  name: 'p-db-1',
  service: 'db',
  state: 'running',
  image: 'postgres:16',
  imageId: 'sha256:db',
  env: { POSTGRES_USER: 'postgres' },
  mounts: [{ type: 'volume', name: 'p_db_data', destination: '/var/lib/postgresql/data', readOnly: false }],
};
const knowledge: ProjectContainer = {
  id: 'knowledge-id',
  name: 'p-knowledge-1',
  service: 'knowledge',
  state: 'running',
  image: 'knowledge',
  imageId: 'sha256:knowledge',
  env: {},
  mounts: [{ type: 'volume', name: 'p_knowledge_data', destination: '/data', readOnly: false }],
};
const volume = (key: string): ProjectVolume => ({ name: `p_${key}`, key, labels: {}, driver: 'local', options: {} });

/**
 * A stack whose pg_dump of sting_app fails once the copy of a large volume is under way: the copy
 * has sent the first part of a file into the archive and waits for the rest, as a real copy does
 * on a busy machine. Like the real engine, an abort destroys the volume's tar stream.
 */
function engineWhoseDumpFailsMidCopy(copying: Promise<void>): { engine: BackupEngine; unpaused: string[] } {
  const unpaused: string[] = [];
  const engine: Partial<BackupEngine> = {
    listContainers: async () => [db, knowledge],
    listVolumes: async () => [volume('db_data'), volume('knowledge_data')],
    async exec(_id: string, spec: ExecSpec) {
      const tool = spec.cmd[0];
      if (tool === 'psql') {
        const sql = spec.cmd.at(-1)!;
        return { exitCode: 0, stderr: '', stdout: sql.includes('server_version') ? '160002 16.2\n' : 'sting_app\n' };
      }
      if (tool === 'pg_dumpall') {
        spec.stdout!.write('-- globals\n');
        return { exitCode: 0, stderr: '', stdout: '' };
      }
      await copying;
      return { exitCode: 1, stderr: 'FATAL:  could not access file "msting_test_missing"\n', stdout: '' };
    },
    async readVolume(_name, _image, signal) {
      const pack = tar.pack();
      const tarStream = new PassThrough();
      pack.pipe(tarStream);
      // The pack behind the stream goes down with it; only the stream's own error is news.
      pack.on('error', () => undefined);
      const entry = pack.entry({ name: 'big.bin', size: 4 * 1024 * 1024 });
      entry.on('error', () => undefined);
      entry.write(Buffer.alloc(64 * 1024));
      signal?.addEventListener('abort', () => tarStream.destroy(new MstingError('INTERRUPTED', 'interrupted')), { once: true });
      const finished = new Promise<void>((resolve, reject) => {
        tarStream.on('close', resolve);
        tarStream.on('error', reject);
      });
      finished.catch(() => undefined);
      return { tar: tarStream, finished };
    },
    pause: async () => undefined,
    unpause: async (id) => {
      unpaused.push(id);
    },
    imageInfo: async (image) => ({ id: image, digests: [] }),
  };
  return { engine: engine as BackupEngine, unpaused };
}

describe('createBackup when a stage fails', () => {
  it("reports the dump's own failure (exit 5), not an interruption, when the dump fails in the middle of a volume copy", async () => {
    const work = await mkdtemp(join(tmpdir(), 'msting-create-'));
    const outputDir = join(work, 'out');
    let copyUnderWay!: () => void;
    const copying = new Promise<void>((resolve) => (copyUnderWay = resolve));
    const { engine, unpaused } = engineWhoseDumpFailsMidCopy(copying);
    const failure = await createBackup(
      engine,
      {
        project: 'p',
        stack: { imagesVersion: '1', imagesRegistry: 'r', profile: 'default' },
        layout: installLayout(join(work, 'home')),
        outputDir,
        encryption: { kind: 'none' },
        includeVaultKeys: false,
        mstingVersion: '0.0.0',
        signal: new AbortController().signal,
      },
      // The first bytes of the volume reached the archive: the copy is under way.
      { onBytes: () => copyUnderWay() },
    ).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(MstingError);
    expect(failure).toMatchObject({ code: 'EXTERNAL', message: 'pg_dump of sting_app failed (exit 1)' });
    expect((failure as MstingError).exitCode).toBe(5);
    expect(await readdir(outputDir)).toEqual([]);
    expect(unpaused).toEqual(['knowledge-id']);
  });
});

/** Options for a backup of project `p` into `work`/out. */
function backupOptions(work: string, databaseWaitMs?: number) {
  return {
    project: 'p',
    stack: { imagesVersion: '1', imagesRegistry: 'r', profile: 'default' },
    layout: installLayout(join(work, 'home')),
    outputDir: join(work, 'out'),
    encryption: { kind: 'none' as const },
    includeVaultKeys: false,
    mstingVersion: '0.0.0',
    signal: new AbortController().signal,
    ...(databaseWaitMs === undefined ? {} : { databaseWaitMs }),
  };
}

/**
 * A database whose containers answer in turn, as a Swarm task being replaced does: each listing
 * shows the next one (the last stays), and each answers psql with its own line.
 */
function restartingDatabase(listings: ProjectContainer[][], answers: Record<string, { exitCode: number; stderr: string }>): { engine: BackupEngine; ran: string[] } {
  const ran: string[] = [];
  let listed = 0;
  const engine: Partial<BackupEngine> = {
    listContainers: async () => listings[Math.min(listed++, listings.length - 1)]!,
    listVolumes: async () => [volume('db_data')],
    async exec(id: string, spec: ExecSpec) {
      ran.push(`${spec.cmd[0]} in ${id}`);
      if (spec.cmd[0] === 'psql') {
        const answer = answers[id] ?? { exitCode: 0, stderr: '' };
        if (answer.exitCode !== 0) return { ...answer, stdout: '' };
        const sql = spec.cmd.at(-1)!;
        return { exitCode: 0, stderr: '', stdout: sql.includes('server_version') ? '160002 16.2\n' : 'kratos\nsting_app\nsting_messaging\n' };
      }
      // The globals dump fails: enough to show where the backup went on.
      return { exitCode: 1, stderr: 'pg_dumpall: stopped by the test\n', stdout: '' };
    },
    imageInfo: async (image) => ({ id: image, digests: [] }),
  };
  return { engine: engine as BackupEngine, ran };
}

const shuttingDown = {
  exitCode: 2,
  stderr: 'psql: error: connection to server on socket "/var/run/postgresql/.s.PGSQL.5432" failed: FATAL:  the database system is shutting down\n',
};

describe('createBackup and a database that is restarting', () => {
  it('waits for a database that is shutting down to be replaced, says so once, and dumps from the new one', async () => {
    const work = await mkdtemp(join(tmpdir(), 'msting-create-'));
    const old = { ...db, id: 'db-old' };
    const replacement = { ...db, id: 'db-new' };
    const gone = { ...old, state: 'exited' };
    const { engine, ran } = restartingDatabase([[old], [gone], [gone, replacement]], { 'db-old': shuttingDown });
    const warnings: string[] = [];
    const failure = await createBackup(engine, backupOptions(work), { onWarning: (m) => warnings.push(m) }).catch((err: unknown) => err);
    expect(failure).toMatchObject({ message: 'pg_dumpall --globals-only failed (exit 1)' });
    expect(warnings).toEqual(['the database is restarting (the database system is shutting down); waiting for it']);
    expect(ran.filter((r) => r.startsWith('pg_dumpall'))).toEqual(['pg_dumpall in db-new']);
    expect(await readdir(join(work, 'out'))).toEqual([]);
  });

  it('gives up after its wait when the database does not come back, with a hint and no archive', async () => {
    const work = await mkdtemp(join(tmpdir(), 'msting-create-'));
    const { engine, ran } = restartingDatabase([[db]], { [db.id]: shuttingDown });
    const failure = await createBackup(engine, backupOptions(work, 1500)).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(MstingError);
    expect((failure as MstingError).message).toBe('cannot back up: the database did not come back within 2 s (the database system is shutting down)');
    expect((failure as MstingError).hint).toMatch(/msting logs db/);
    expect((failure as MstingError).exitCode).toBe(5);
    expect(await readdir(join(work, 'out')).catch(() => [])).toEqual([]);
    expect(ran.length).toBeGreaterThan(1);
    expect(ran.every((r) => r === `psql in ${db.id}`)).toBe(true);
  });

  it('fails at once when the database is stopped, not restarting', async () => {
    const work = await mkdtemp(join(tmpdir(), 'msting-create-'));
    const { engine, ran } = restartingDatabase([[{ ...db, state: 'exited' }]], {});
    const failure = await createBackup(engine, backupOptions(work)).catch((err: unknown) => err);
    expect(failure).toMatchObject({ code: 'EXTERNAL', message: 'cannot back up: the database container p-db-1 is exited, so the databases cannot be dumped' });
    expect(ran).toEqual([]);
  });

  it('fails at once on a query error that is not a restart', async () => {
    const work = await mkdtemp(join(tmpdir(), 'msting-create-'));
    const denied = { exitCode: 2, stderr: 'psql: error: FATAL:  role "postgres" does not exist\n' };
    const { engine, ran } = restartingDatabase([[db]], { [db.id]: denied });
    const failure = await createBackup(engine, backupOptions(work)).catch((err: unknown) => err);
    expect(failure).toMatchObject({ message: 'PostgreSQL did not answer (psql exit 2)' });
    expect(ran).toEqual([`psql in ${db.id}`]);
  });
});
