import { once } from 'node:events';
import { statfs } from 'node:fs/promises';
import { PassThrough, type Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { formatBytes } from '../bytes.js';
import { MstingError } from '../errors.js';
import { writeFileAtomic } from '../files/atomic-write.js';
import type { InstallLayout } from '../layout.js';
import { relativeName, type Manifest } from './archive.js';
import type { KeySource } from './crypto-format.js';
import type { BackupEngine, ProjectContainer, ProjectVolume } from '../docker/backup-engine.js';
import { DB_SERVICE } from './plan.js';
import { createDumpChecker, postgresInfo, quoteIdent, superuserOf, execSql } from './postgres.js';
import { walkArchive } from './read.js';
import { verifyArchive, type VerifyReport } from './verify.js';
import { join } from 'node:path';

/** What restore needs from the rest of msting, injected so the order of work stays here. */
export interface RestoreHooks {
  /** Start these services (all of the profile when omitted) and wait until they are healthy. */
  start(services?: string[]): Promise<void>;
  /** Unseal Vault once the stack is back (restored Vault storage starts sealed). */
  ensureUnsealed(): Promise<void>;
}

export interface RestorePlan {
  archive: string;
  manifest: Manifest;
  report: VerifyReport;
  databases: string[];
  volumes: Array<{ key: string; target: string; exists: boolean; files: number; bytes: number }>;
  config: Array<{ entry: string; target: string }>;
  keys: string[];
  /** Running services that will be stopped. */
  stop: string[];
  postgres: { archive: number; current: number | undefined; currentFrom: string };
  disk: { needed: number; free: number | undefined; where: string | undefined };
}

export interface RestoreOptions {
  path: string;
  keys: KeySource;
  project: string;
  /** The database image config.yml names, for checks when the stack has no database container. */
  dbImage?: string;
  layout: InstallLayout;
  signal: AbortSignal;
}

export type RestoreStage =
  | { stage: 'verify' }
  | { stage: 'stop'; services: string[] }
  | { stage: 'start-db' }
  | { stage: 'globals' }
  | { stage: 'database'; name: string }
  | { stage: 'volume'; name: string }
  | { stage: 'config' }
  | { stage: 'start' }
  | { stage: 'unseal' };

export interface RestoreCallbacks {
  onStage?: (stage: RestoreStage) => void;
  onBytes?: (n: number) => void;
  onWarning?: (message: string) => void;
}

const CONFIG_TARGETS = (layout: InstallLayout): Record<string, string> => ({
  'config/config.yml': layout.configFile,
  'config/docker-compose.override.yml': layout.composeOverrideFile,
});

/**
 * Verify the whole archive and work out what a restore would replace. Touches nothing: a wrong
 * key, a damaged or truncated archive, a PostgreSQL major mismatch or too little disk all stop here.
 */
export async function planRestore(engine: BackupEngine, options: RestoreOptions, callbacks: RestoreCallbacks = {}): Promise<RestorePlan> {
  callbacks.onStage?.({ stage: 'verify' });
  const checker = await createDumpChecker(engine, options.project, options.dbImage);
  let report: VerifyReport;
  try {
    report = await verifyArchive(options.path, options.keys, checker, { signal: options.signal, ...(callbacks.onBytes ? { onBytes: callbacks.onBytes } : {}) });
  } finally {
    await checker?.dispose();
  }
  if (report.cryptoError) throw report.cryptoError;
  if (!report.ok || !report.manifest) {
    throw new MstingError('BACKUP_INVALID', `the archive failed verification; nothing was changed`, {
      details: report.problems.slice(0, 20),
      hint: 'use another copy of the archive (msting backup verify FILE shows every problem)',
    });
  }
  const manifest = report.manifest;
  if (manifest.stack.project !== options.project) {
    callbacks.onWarning?.(`the archive is of project "${manifest.stack.project}"; it will be restored into "${options.project}"`);
  }

  const containers = await engine.listContainers(options.project);
  const volumes = await engine.listVolumes(options.project);
  const postgres = await currentPostgresMajor(engine, containers, manifest);
  if (postgres.current !== undefined && postgres.current !== manifest.postgres.major) {
    throw new MstingError('PREFLIGHT', `the archive holds PostgreSQL ${manifest.postgres.major} dumps but the stack runs PostgreSQL ${postgres.current}; nothing was changed`, {
      hint: `restore with the stack on PostgreSQL ${manifest.postgres.major} (images.overrides.db in config.yml), then upgrade`,
    });
  }

  const targets = manifest.volumes.map((v) => {
    const existing = volumes.find((x) => x.key === v.key);
    return { key: v.key, target: existing?.name ?? `${options.project}_${v.key}`, exists: Boolean(existing), files: v.files, bytes: v.bytes };
  });
  const dumpBytes = manifest.entries.filter((e) => e.path.startsWith('db/')).reduce((n, e) => n + e.size, 0);
  // Dumps are compressed; a restored database takes several times their size on disk.
  const needed = targets.reduce((n, v) => n + v.bytes, 0) + 4 * dumpBytes;
  const disk = await freeSpace(engine);
  if (disk.free !== undefined && disk.free < needed) {
    throw new MstingError('PREFLIGHT', `not enough free disk for the restore: about ${formatBytes(needed)} needed, ${formatBytes(disk.free)} free at ${disk.where}; nothing was changed`, {
      hint: 'free some space (docker system prune removes unused images) and try again',
    });
  }
  const configTargets = CONFIG_TARGETS(options.layout);
  return {
    archive: options.path,
    manifest,
    report,
    databases: manifest.databases.map((d) => d.name),
    volumes: targets,
    config: manifest.config.filter((c) => configTargets[c]).map((c) => ({ entry: c, target: configTargets[c]! })),
    keys: manifest.entries.filter((e) => e.path.startsWith('keys/')).map((e) => e.path.slice(5)),
    stop: containers.filter((c) => c.state === 'running' || c.state === 'paused').map((c) => c.service).sort(),
    postgres: { archive: manifest.postgres.major, ...postgres },
    disk: { needed, ...disk },
  };
}

async function currentPostgresMajor(
  engine: BackupEngine,
  containers: ProjectContainer[],
  manifest: Manifest,
): Promise<{ current: number | undefined; currentFrom: string }> {
  const db = containers.find((c) => c.service === DB_SERVICE);
  if (db?.state === 'running') return { current: (await postgresInfo(engine, db)).major, currentFrom: 'the running database' };
  const image = db?.imageId ?? manifest.images.find((i) => i.service === DB_SERVICE)?.id;
  if (!image) return { current: undefined, currentFrom: 'checked after the database starts' };
  const scratch = await engine.startScratch(image).catch(() => undefined);
  if (!scratch) return { current: undefined, currentFrom: 'checked after the database starts' };
  try {
    const out = await engine.exec(scratch.id, { cmd: ['pg_restore', '--version'] });
    const m = /\(PostgreSQL\)\s+(\d+)/.exec(out.stdout);
    return m ? { current: Number(m[1]), currentFrom: `the database image ${image.slice(0, 19)}` } : { current: undefined, currentFrom: 'checked after the database starts' };
  } finally {
    await scratch.dispose();
  }
}

async function freeSpace(engine: BackupEngine): Promise<{ free: number | undefined; where: string | undefined }> {
  const where = await engine.rootDir().catch(() => undefined);
  if (!where) return { free: undefined, where };
  try {
    const s = await statfs(where);
    return { free: s.bavail * s.bsize, where };
  } catch {
    // The engine may run elsewhere (a remote or VM-backed Docker): no local path to measure.
    return { free: undefined, where };
  }
}

/**
 * Apply a verified plan: stop the stack, restore roles, databases, volumes, config and (when the
 * archive has them) the Vault keys, then start everything, unseal Vault and wait for health.
 */
export async function applyRestore(engine: BackupEngine, plan: RestorePlan, options: RestoreOptions, hooks: RestoreHooks, callbacks: RestoreCallbacks = {}): Promise<void> {
  const { signal } = options;
  let containers = await engine.listContainers(options.project);
  const toStop = containers.filter((c) => c.service !== DB_SERVICE && (c.state === 'running' || c.state === 'paused'));
  callbacks.onStage?.({ stage: 'stop', services: [...new Set(toStop.map((c) => c.service))].sort() });
  for (const c of toStop) {
    if (c.state === 'paused') await engine.unpause(c.id);
    await engine.stop(c.id);
  }

  let db = containers.find((c) => c.service === DB_SERVICE && c.state === 'running');
  if (!db) {
    callbacks.onStage?.({ stage: 'start-db' });
    await hooks.start([DB_SERVICE]);
    containers = await engine.listContainers(options.project);
    db = containers.find((c) => c.service === DB_SERVICE && c.state === 'running');
    if (!db) throw new MstingError('EXTERNAL', 'the database did not start, so nothing was restored into it', { hint: 'check `msting logs db`' });
  }
  const major = (await postgresInfo(engine, db, signal)).major;
  if (major !== plan.manifest.postgres.major) {
    throw new MstingError('PREFLIGHT', `the archive holds PostgreSQL ${plan.manifest.postgres.major} dumps but the database runs PostgreSQL ${major}; nothing was restored`, {
      hint: `run the stack on PostgreSQL ${plan.manifest.postgres.major} for the restore`,
    });
  }
  const dbContainer = db;
  const superuser = superuserOf(dbContainer);
  const volumes = await engine.listVolumes(options.project);
  const small = new Map<string, { data: Buffer; mode: number }>();
  let group: { key: string; volume: string; pack: tar.Pack; done: Promise<void>; root?: { uid: number; gid: number; mode: number } } | undefined;

  const closeGroup = async (): Promise<void> => {
    if (!group) return;
    group.pack.finalize();
    await group.done;
    if (group.root) await engine.setVolumeRoot(group.volume, dbContainer.imageId, group.root);
    group = undefined;
  };
  const openGroup = async (key: string): Promise<void> => {
    const target = plan.volumes.find((v) => v.key === key);
    const record = plan.manifest.volumes.find((v) => v.key === key);
    if (!target || !record) throw new MstingError('BACKUP_INVALID', `volume ${key} is in the archive but not in its manifest`, { hint: 'use another copy of the archive' });
    callbacks.onStage?.({ stage: 'volume', name: target.target });
    for (const c of containers.filter((x) => x.mounts.some((m) => m.type === 'volume' && m.name === target.target))) {
      if (c.service === DB_SERVICE) throw new MstingError('BACKUP_INVALID', `volume ${key} belongs to the database container`, { hint: 'use another copy of the archive' });
      await engine.remove(c.id);
    }
    const existing: ProjectVolume | undefined = volumes.find((v) => v.name === target.target);
    await engine.removeVolume(target.target);
    await engine.createVolume({
      name: target.target,
      labels: { ...(existing?.labels ?? record.labels), 'com.docker.compose.project': options.project, 'com.docker.compose.volume': key },
      driver: existing?.driver ?? record.driver ?? 'local',
      options: existing?.options ?? record.options ?? {},
    });
    const pack = tar.pack();
    const body = new PassThrough();
    (pack as unknown as { pipe(d: NodeJS.WritableStream): void }).pipe(body);
    const done = engine.writeVolume(target.target, dbContainer.imageId, body);
    done.catch(() => undefined);
    group = { key, volume: target.target, pack, done };
  };

  const walked = await walkArchive(
    options.path,
    options.keys,
    async (entry) => {
      signal.throwIfAborted();
      const { path, header } = entry;
      if (path === 'db/globals.sql') {
        callbacks.onStage?.({ stage: 'globals' });
        const result = await engine.exec(dbContainer.id, {
          cmd: ['psql', '--no-psqlrc', '--quiet', '--username', superuser, '--dbname', 'postgres', '--file', '-'],
          user: 'postgres',
          stdin: entry.stream,
          signal,
        });
        // Roles that already exist (the superuser, roles created at first start) are expected.
        const errors = result.stderr.split('\n').filter((l) => /ERROR:/.test(l) && !/already exists/.test(l));
        if (result.exitCode !== 0 || errors.length > 0) {
          throw new MstingError('EXTERNAL', 'restoring the PostgreSQL roles failed', { details: errors.slice(0, 8), hint: 'the databases were not touched yet; check `msting logs db`' });
        }
        return;
      }
      const dump = /^db\/(.+)\.dump$/.exec(path);
      if (dump) {
        const name = dump[1]!;
        callbacks.onStage?.({ stage: 'database', name });
        await execSql(engine, dbContainer, `DROP DATABASE IF EXISTS ${quoteIdent(name)}${major >= 13 ? ' WITH (FORCE)' : ''}`, signal);
        const result = await engine.exec(dbContainer.id, {
          cmd: ['pg_restore', '--create', '--exit-on-error', '--username', superuser, '--dbname', 'postgres'],
          user: 'postgres',
          stdin: entry.stream,
          signal,
        });
        if (result.exitCode !== 0) {
          throw new MstingError('EXTERNAL', `pg_restore of ${name} failed (exit ${result.exitCode})`, {
            details: result.stderr.trim().split('\n').slice(-8),
            hint: 'run the restore again once the cause is fixed; it starts over from the archive',
          });
        }
        return;
      }
      const vol = /^volumes\/([^/]+)\/(.*)$/.exec(path);
      if (vol) {
        const key = vol[1]!;
        if (group?.key !== key) {
          await closeGroup();
          await openGroup(key);
        }
        const rel = relativeName(vol[2]!);
        if (rel === '' && header.type === 'directory') group!.root = { uid: header.uid ?? 0, gid: header.gid ?? 0, mode: header.mode ?? 0o755 };
        const h: tar.Header = { ...header, name: rel === '' ? './' : header.type === 'directory' ? `${rel}/` : rel, pax: null };
        if (header.type === 'link') h.linkname = relativeName(header.linkname.replace(/^volumes\/[^/]+\//, ''));
        await writeEntry(group!.pack, h, header.type === 'file' ? entry.stream : undefined);
        return;
      }
      if (path.startsWith('config/') || path.startsWith('keys/')) {
        const parts: Buffer[] = [];
        for await (const chunk of entry.stream) parts.push(chunk as Buffer);
        small.set(path, { data: Buffer.concat(parts), mode: header.mode & 0o777 });
      }
    },
    { signal, ...(callbacks.onBytes ? { onBytes: callbacks.onBytes } : {}) },
  );
  await closeGroup();
  if (walked.problems.length > 0) {
    throw new MstingError('BACKUP_INVALID', 'the archive changed while it was being restored', { details: walked.problems.slice(0, 10), hint: 'restore again from a copy nobody writes to' });
  }

  callbacks.onStage?.({ stage: 'config' });
  for (const { entry, target } of plan.config) {
    const file = small.get(entry);
    if (file) await writeFileAtomic(target, file.data, { mode: file.mode || 0o600 });
  }
  for (const name of plan.keys) {
    const file = small.get(`keys/${name}`);
    if (file && !name.includes('/')) await writeFileAtomic(join(options.layout.secretsDir, name), file.data, { mode: 0o600, dirMode: 0o700 });
  }

  callbacks.onStage?.({ stage: 'start' });
  await hooks.start();
  callbacks.onStage?.({ stage: 'unseal' });
  await hooks.ensureUnsealed();
}

async function writeEntry(pack: tar.Pack, header: tar.Header, source: Readable | undefined): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const sink = pack.entry(header, (err) => (err ? reject(err) : resolve()));
    if (!source) {
      (sink as unknown as { end(): void }).end();
      return;
    }
    void (async () => {
      try {
        for await (const chunk of source) {
          if (!sink.write(chunk as Buffer)) await once(sink as unknown as NodeJS.EventEmitter, 'drain');
        }
        (sink as unknown as { end(): void }).end();
      } catch (err) {
        sink.destroy(err as Error);
        reject(err);
      }
    })();
  });
}
