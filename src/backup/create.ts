import { compareText } from '../compare.js';
import { arch, platform } from 'node:os';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { MstingError } from '../errors.js';
import type { InstallLayout } from '../layout.js';
import { ArchiveWriter, MANIFEST_FORMAT, MANIFEST_VERSION, type Manifest, type ManifestVolume } from './archive.js';
import { EncryptStream, buildHeader } from './crypto-format.js';
import type { BackupEngine, ProjectContainer } from '../docker/backup-engine.js';
import { PauseJournal } from './interrupted.js';
import { BACKUP_KEY_FILE } from './keys.js';
import { archiveName, planBackup, type BackupPlan } from './plan.js';
import { postgresInfo, listDatabases, superuserOf } from './postgres.js';
import { createSpool, type Spool } from './spool.js';
import type { KdfParams } from './crypto-format.js';
import { fsyncFile, syncDir } from './fs.js';
import { createWriteStream } from 'node:fs';

/**
 * Bytes queued for the archive file before the writers wait: a deep queue lets each write be one
 * large writev instead of a write per 64 KiB chunk.
 */
const WRITE_BUFFER = 8 * 1024 * 1024;

export type Encryption = { kind: 'none' } | { kind: 'key'; master: Buffer; kdf: KdfParams };

export interface CreateBackupOptions {
  project: string;
  stack: { imagesVersion: string; imagesRegistry: string; profile: string };
  layout: InstallLayout;
  outputDir: string;
  /** May still be settling (a passphrase's scrypt): it is awaited only when the archive starts. */
  encryption: Encryption | Promise<Encryption>;
  includeVaultKeys: boolean;
  mstingVersion: string;
  signal: AbortSignal;
  now?: () => Date;
  /** How long to wait for a database that is restarting (default `DATABASE_RESTART_WAIT_MS`). */
  databaseWaitMs?: number;
}

export type BackupStage =
  | { stage: 'plan'; databases: string[]; volumes: string[]; skipped: BackupPlan['skipped'] }
  | { stage: 'database'; name: string }
  | { stage: 'volume'; name: string; quiesce: ManifestVolume['quiesce']; paused: string[] }
  | { stage: 'files' }
  | { stage: 'finish' };

export interface BackupCallbacks {
  onStage?: (stage: BackupStage) => void;
  /** Plaintext bytes added to the archive. */
  onBytes?: (n: number) => void;
  onWarning?: (message: string) => void;
}

export interface BackupResult {
  path: string;
  size: number;
  plainBytes: number;
  encrypted: boolean;
  manifest: Manifest;
}

/**
 * Write one archive of the stack: a pg_dump of every database and the globals, every stateful
 * volume, config.yml and the compose override, and a manifest last. The archive is written under a
 * temporary name and renamed only when every stage succeeded, so a failure leaves nothing behind.
 */
export async function createBackup(engine: BackupEngine, options: CreateBackupOptions, callbacks: BackupCallbacks = {}): Promise<BackupResult> {
  const { signal } = options;
  const { plan, pg, containers } = await readyPlan(engine, options, callbacks);
  const db = plan.db;
  const superuser = superuserOf(db);
  const databases = await listDatabases(engine, db, signal);
  const missingDatabases = plan.expectedDatabases.filter((d) => !databases.includes(d));
  for (const name of missingDatabases) callbacks.onWarning?.(`database ${name} does not exist; it is not in this backup`);
  callbacks.onStage?.({ stage: 'plan', databases, volumes: plan.volumes.map((v) => v.volume.name), skipped: plan.skipped });

  const created = (options.now ?? (() => new Date()))();
  const encryption = await options.encryption;
  const encrypted = encryption.kind !== 'none';
  const name = archiveName(options.project, created, encrypted);
  await mkdir(options.outputDir, { recursive: true, mode: 0o700 });
  const finalPath = join(options.outputDir, name);
  const tmpPath = join(options.outputDir, `.${name}.partial`);
  await (await open(tmpPath, 'wx', 0o600).catch((err: NodeJS.ErrnoException) => {
    throw new MstingError('IO', `cannot write into ${options.outputDir}: ${err.code ?? err.message}`, { hint: 'choose a writable directory with --output', cause: err });
  })).close();
  const writer = new ArchiveWriter(callbacks.onBytes);
  const counter = new ByteCounter();
  const stages: NodeJS.ReadWriteStream[] = [];
  if (encryption.kind === 'key') {
    const { header, payloadKey } = buildHeader(encryption.master, encryption.kdf);
    stages.push(new EncryptStream(header, payloadKey));
  }
  const written = pipeline([Readable.from(writer.pack), counter, ...stages, createWriteStream(tmpPath, { flags: 'r+', highWaterMark: WRITE_BUFFER })]);
  // `stop` ends every running stage: on Ctrl-C, and when writing the archive, a dump or a volume copy fails.
  const stop = new AbortController();
  // The failure that stopped the other stages is the one reported. What those stages throw once
  // stopped is its consequence: a volume copy cut off mid-file destroys its archive entry, and
  // tar-stream then destroys the whole archive stream with that entry's INTERRUPTED error.
  let firstFailure: unknown;
  const fail = (err: unknown): void => {
    if (stop.signal.aborted) return;
    firstFailure = err;
    stop.abort();
  };
  let writeFailure: unknown;
  written.catch((err: unknown) => {
    writeFailure = err;
    fail(err);
    writer.pack.destroy(err as Error);
  });
  const onAbort = (): void => {
    stop.abort();
    writer.pack.destroy(new MstingError('INTERRUPTED', 'interrupted'));
  };
  signal.addEventListener('abort', onAbort, { once: true });

  // The dumps run in the database container while the volumes are copied: two tools on two cores
  // instead of one after the other. Each dump is spooled (a tar header needs its size first) and goes
  // into the archive after the volumes; globals first, so a restore creates the roles before the
  // databases that name them.
  const dumps = dumpDatabases(engine, db, superuser, databases, options.outputDir, stop.signal, callbacks).catch((err: unknown) => {
    fail(err);
    throw err;
  });
  dumps.catch(() => undefined);

  const journal = new PauseJournal(options.layout.home, callbacks.onWarning);
  let spooled: SpooledDump[] = [];
  try {
    const volumeRecords: ManifestVolume[] = [];
    for (const step of plan.volumes) {
      stop.signal.throwIfAborted();
      const record = await copyVolume(writer, engine, journal, step, db.imageId, stop.signal, callbacks);
      volumeRecords.push(record);
    }

    spooled = await dumps;
    for (const dump of spooled) await writer.addStream(dump.path, dump.size, dump.spool.open());
    const dumped: Manifest['databases'] = spooled.filter((d) => d.database).map((d) => ({ name: d.database!, path: d.path }));

    callbacks.onStage?.({ stage: 'files' });
    const config: string[] = [];
    for (const [file, path] of [
      [options.layout.configFile, 'config/config.yml'],
      [options.layout.composeOverrideFile, 'config/docker-compose.override.yml'],
    ] as const) {
      const data = await readIfExists(file);
      if (data) {
        await writer.addBuffer(path, data, { mode: 0o600 });
        config.push(path);
      }
    }
    if (options.includeVaultKeys) {
      for (const file of await secretFiles(options.layout.secretsDir)) {
        await writer.addBuffer(`keys/${file}`, await readFile(join(options.layout.secretsDir, file)), { mode: 0o600 });
      }
    }

    callbacks.onStage?.({ stage: 'finish' });
    const manifest: Manifest = {
      format: MANIFEST_FORMAT,
      formatVersion: MANIFEST_VERSION,
      created: created.toISOString(),
      msting: { version: options.mstingVersion },
      stack: { project: options.project, ...options.stack },
      host: { arch: arch(), platform: platform() },
      postgres: { major: pg.major, version: pg.version, superuser },
      images: await imageRecords(engine, containers),
      databases: dumped,
      missingDatabases,
      volumes: volumeRecords,
      config,
      includesVaultKeys: options.includeVaultKeys,
      entries: [...writer.entries],
    };
    await writer.finish(manifest);
    await written;
    await fsyncFile(tmpPath);
    await rename(tmpPath, finalPath);
    await syncDir(options.outputDir);
    const size = (await stat(finalPath)).size;
    return { path: finalPath, size, plainBytes: counter.plainIn, encrypted, manifest };
  } catch (err) {
    // This loop's own stage failed first unless another failure had already stopped it.
    fail(err);
    // A file-system failure writing the archive (a full disk) may reach this loop as its entry's
    // error before the archive stream reports it; it is the cause either way.
    writer.pack.destroy();
    await written.catch(() => undefined);
    const failedWrite = isFileSystemError(writeFailure) ? writeFailure : undefined;
    spooled = await dumps.catch(() => spooled);
    await rm(tmpPath, { force: true });
    if (signal.aborted) throw new MstingError('INTERRUPTED', 'backup interrupted; no archive was written', { hint: 'run msting backup again' });
    throw outputError(failedWrite ?? firstFailure ?? err, options.outputDir);
  } finally {
    signal.removeEventListener('abort', onAbort);
    await Promise.all(spooled.map((d) => d.spool.dispose()));
  }
}

class ByteCounter extends Transform {
  plainIn = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.plainIn += chunk.length;
    done(null, chunk);
  }
}

interface SpooledDump {
  path: string;
  /** The database, for a pg_dump (not for the globals). */
  database?: string;
  size: number;
  spool: Spool;
}

/** pg_dumpall --globals-only, then pg_dump of each database, one after the other, each spooled and checked. */
async function dumpDatabases(
  engine: BackupEngine,
  db: ProjectContainer,
  superuser: string,
  databases: string[],
  spoolDir: string,
  signal: AbortSignal,
  callbacks: BackupCallbacks,
): Promise<SpooledDump[]> {
  const done: SpooledDump[] = [];
  try {
    callbacks.onStage?.({ stage: 'database', name: 'globals' });
    done.push(await spoolDump(engine, db, 'db/globals.sql', ['pg_dumpall', '--globals-only', '--username', superuser], 'pg_dumpall --globals-only', spoolDir, signal));
    for (const database of databases) {
      signal.throwIfAborted();
      callbacks.onStage?.({ stage: 'database', name: database });
      const path = `db/${database}.dump`;
      const dump = await spoolDump(engine, db, path, ['pg_dump', '--format=custom', '--username', superuser, '--dbname', database], `pg_dump of ${database}`, spoolDir, signal);
      done.push({ ...dump, database });
    }
    return done;
  } catch (err) {
    await Promise.all(done.map((d) => d.spool.dispose()));
    throw err;
  }
}

/** How long a backup waits for a database that is restarting (a Swarm task being replaced). */
export const DATABASE_RESTART_WAIT_MS = 90_000;

/**
 * The plan, from a database that answers. A database that is restarting (PostgreSQL shutting
 * down or starting up, or its container gone between the listing and the query: under Swarm a
 * task whose health check failed is replaced) is waited for, up to `DATABASE_RESTART_WAIT_MS`;
 * a database that is simply not running fails at once.
 */
async function readyPlan(
  engine: BackupEngine,
  options: CreateBackupOptions,
  callbacks: BackupCallbacks,
): Promise<{ plan: BackupPlan; pg: { major: number; version: string }; containers: ProjectContainer[] }> {
  const deadline = Date.now() + (options.databaseWaitMs ?? DATABASE_RESTART_WAIT_MS);
  let restarting: string | undefined;
  for (;;) {
    const containers = await engine.listContainers(options.project);
    const plan = planBackup(options.project, containers, await engine.listVolumes(options.project));
    let reason: string;
    if ('problem' in plan) {
      if (restarting === undefined) {
        throw new MstingError('EXTERNAL', `cannot back up: ${plan.problem}`, { hint: 'start the stack (msting start) and run the backup again; no archive was written' });
      }
      reason = plan.problem;
    } else {
      try {
        return { plan, pg: await postgresInfo(engine, plan.db, options.signal), containers };
      } catch (err) {
        const transient = restartingReason(err);
        if (transient === undefined) throw err;
        reason = transient;
      }
    }
    if (Date.now() >= deadline) {
      throw new MstingError('EXTERNAL', `cannot back up: the database did not come back within ${Math.round((options.databaseWaitMs ?? DATABASE_RESTART_WAIT_MS) / 1000)} s (${reason})`, {
        hint: 'check the database with `msting status` and `msting logs db`, then run the backup again; no archive was written',
      });
    }
    if (restarting === undefined) callbacks.onWarning?.(`the database is restarting (${reason}); waiting for it`);
    restarting = reason;
    await sleep(1000, undefined, { signal: options.signal });
  }
}

/** Why a failed query means the database is restarting, or undefined when it means something else. */
function restartingReason(err: unknown): string | undefined {
  const text = err instanceof MstingError ? [err.message, ...(err.details ?? [])].join('\n') : err instanceof Error ? err.message : '';
  const m = /the database system is (shutting down|starting up|in recovery mode|not yet accepting connections)|is not running|no such container|is restarting|connection to server on socket .* failed: No such file or directory/i.exec(text);
  return m ? m[0] : undefined;
}

/** Run a dump command in the database container into a spool, and check what came out. */
async function spoolDump(engine: BackupEngine, db: ProjectContainer, path: string, cmd: string[], what: string, spoolDir: string, signal: AbortSignal): Promise<SpooledDump> {
  const spool = createSpool(spoolDir);
  try {
    const result = await engine.exec(db.id, { cmd, user: 'postgres', stdout: spool.input, signal });
    spool.input.end();
    const data = await spool.done;
    if (result.exitCode !== 0) {
      throw new MstingError('EXTERNAL', `${what} failed (exit ${result.exitCode})`, {
        details: tail(result.stderr),
        hint: 'check the database with `msting logs db`; no archive was written',
      });
    }
    if (data.size === 0) throw new MstingError('EXTERNAL', `${what} produced no output`, { hint: 'check the database with `msting logs db`; no archive was written' });
    if (path.endsWith('.dump') && data.head.subarray(0, 5).toString('latin1') !== 'PGDMP') {
      throw new MstingError('EXTERNAL', `${what} did not produce a PostgreSQL custom-format archive`, { hint: 'no archive was written' });
    }
    return { path, size: data.size, spool };
  } catch (err) {
    spool.input.destroy();
    const spoolFailure: unknown = await spool.done.then(() => undefined, (e: unknown) => e);
    await spool.dispose();
    // The dump stopped because its spool could not be written (a full disk): say that.
    throw isFileSystemError(spoolFailure) ? spoolFailure : err;
  }
}

/** A file-system failure writing the archive or a spool, as one message with what to do. */
function outputError(err: unknown, dir: string): unknown {
  if (!isFileSystemError(err)) return err;
  const code = err.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new MstingError('IO', `no space left in ${dir} for the archive`, { hint: 'free some space there, or choose another directory with --output; no archive was written', cause: err });
  }
  if (code === 'EROFS' || code === 'EACCES' || code === 'EPERM' || code === 'EIO') {
    return new MstingError('IO', `cannot write the archive in ${dir}: ${code}`, { hint: 'choose a writable directory with --output; no archive was written', cause: err });
  }
  return err;
}

function isFileSystemError(err: unknown): err is NodeJS.ErrnoException & { code: string } {
  const e = err as NodeJS.ErrnoException | undefined;
  return typeof e?.code === 'string' && typeof e.syscall === 'string';
}

async function copyVolume(
  writer: ArchiveWriter,
  engine: BackupEngine,
  journal: PauseJournal,
  step: BackupPlan['volumes'][number],
  helperImage: string,
  signal: AbortSignal,
  callbacks: BackupCallbacks,
): Promise<ManifestVolume> {
  if (step.save) {
    const env = step.save.env.REDIS_PASSWORD ? [`REDISCLI_AUTH=${step.save.env.REDIS_PASSWORD}`] : [];
    const saved = await engine.exec(step.save.id, { cmd: ['redis-cli', 'SAVE'], env, signal });
    if (saved.exitCode !== 0 || !/^OK/m.test(saved.stdout)) {
      throw new MstingError('EXTERNAL', `Redis SAVE failed: ${(saved.stdout + saved.stderr).trim() || `exit ${saved.exitCode}`}`, { hint: 'check Redis with `msting logs redis`; no archive was written' });
    }
  }
  const paused: ProjectContainer[] = [];
  const noted: ProjectContainer[] = [];
  callbacks.onStage?.({ stage: 'volume', name: step.volume.name, quiesce: step.quiesce, paused: step.pause.map((c) => c.service) });
  try {
    for (const c of step.pause) {
      // Noted first: if this process dies before it resumes the service, the next backup does.
      await journal.add(c);
      noted.push(c);
      await engine.pause(c.id);
      paused.push(c);
    }
    const reader = await engine.readVolume(step.volume.name, helperImage, signal);
    let copied: { files: number; bytes: number };
    try {
      copied = await writer.addTarStream(`volumes/${step.volume.key}`, reader.tar);
    } catch (err) {
      reader.tar.destroy();
      await reader.finished.catch(() => undefined);
      throw err;
    }
    await reader.finished;
    const { files, bytes } = copied;
    return {
      key: step.volume.key,
      name: step.volume.name,
      services: step.services,
      quiesce: step.quiesce,
      files,
      bytes,
      labels: step.volume.labels,
      driver: step.volume.driver,
      options: step.volume.options,
    };
  } finally {
    for (const c of paused.reverse()) {
      await engine.unpause(c.id).then(
        () => journal.remove(c),
        () => callbacks.onWarning?.(`could not resume ${c.name}; run \`docker unpause ${c.name}\``),
      );
    }
    // A pause that failed: nothing to resume.
    for (const c of noted.filter((n) => !paused.includes(n))) await journal.remove(c);
  }
}

async function imageRecords(engine: BackupEngine, containers: ProjectContainer[]): Promise<Manifest['images']> {
  const seen = new Map<string, Manifest['images'][number]>();
  for (const c of [...containers].sort((a, b) => compareText(a.service, b.service))) {
    if (seen.has(c.service)) continue;
    const info = await engine.imageInfo(c.imageId).catch(() => ({ id: c.imageId, digests: [] as string[] }));
    seen.set(c.service, { service: c.service, image: c.image, id: info.id, digests: info.digests });
  }
  return [...seen.values()];
}

async function readIfExists(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new MstingError('IO', `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
  }
}

/** Files of the secrets directory that may travel with --include-vault-keys: everything but the backup key. */
async function secretFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile() && e.name !== BACKUP_KEY_FILE && !e.name.startsWith('.')).map((e) => e.name).sort();
}

function tail(text: string): string[] {
  return text.trim().split('\n').filter(Boolean).slice(-8);
}
