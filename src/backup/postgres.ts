import { Writable } from 'node:stream';
import { MstingError } from '../errors.js';
import type { BackupEngine, ProjectContainer } from '../docker/backup-engine.js';

/**
 * PostgreSQL as backup and restore use it: every tool runs inside the database container (or a
 * container of its image), so the client always matches the server's version.
 */

export function superuserOf(db: ProjectContainer): string {
  return db.env.POSTGRES_USER || 'postgres';
}

async function query(engine: BackupEngine, db: ProjectContainer, sql: string, signal?: AbortSignal, database = 'postgres'): Promise<string> {
  const result = await engine.exec(db.id, {
    cmd: ['psql', '--no-psqlrc', '--no-align', '--tuples-only', '--username', superuserOf(db), '--dbname', database, '--command', sql],
    user: 'postgres',
    ...(signal ? { signal } : {}),
  });
  if (result.exitCode !== 0) {
    throw new MstingError('EXTERNAL', `PostgreSQL did not answer (psql exit ${result.exitCode})`, {
      details: result.stderr.trim().split('\n').slice(-5),
      hint: 'check the database with `msting status` and `msting logs db`',
    });
  }
  return result.stdout;
}

export async function postgresInfo(engine: BackupEngine, db: ProjectContainer, signal?: AbortSignal): Promise<{ major: number; version: string }> {
  const out = await query(engine, db, "SELECT current_setting('server_version_num') || ' ' || current_setting('server_version')", signal);
  const m = /^(\d+) (\S+)/.exec(out.trim());
  if (!m) throw new MstingError('EXTERNAL', 'could not read the PostgreSQL server version', { hint: 'check the database with `msting logs db`' });
  return { major: Math.floor(Number(m[1]) / 10000), version: m[2]! };
}

/** Databases worth dumping: every connectable non-template database except `postgres`. */
export async function listDatabases(engine: BackupEngine, db: ProjectContainer, signal?: AbortSignal): Promise<string[]> {
  const out = await query(engine, db, "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate AND datname <> 'postgres' ORDER BY 1", signal);
  return out.split('\n').map((l) => l.trim()).filter(Boolean);
}

/** Run a statement that must succeed (DROP/CREATE DATABASE). */
export async function execSql(engine: BackupEngine, db: ProjectContainer, sql: string, signal?: AbortSignal): Promise<void> {
  await query(engine, db, sql, signal);
}

/** A Writable that counts lines and keeps nothing: for tool output that is only checked. */
export class LineCounter extends Writable {
  lines = 0;
  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    for (const byte of chunk) if (byte === 10) this.lines += 1;
    done();
  }
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Checks a custom-format dump with `pg_restore --list`, reading it from standard input. */
export interface DumpChecker {
  check(dump: import('node:stream').Readable, signal?: AbortSignal): Promise<{ ok: true; items: number } | { ok: false; message: string }>;
  dispose(): Promise<void>;
}

/**
 * A checker that runs in the project's database container when it is running, else in a throwaway
 * container of the database image (the stack's, else `fallbackImage`: the one config.yml names).
 * Undefined when there is neither.
 */
export async function createDumpChecker(engine: BackupEngine, project: string, fallbackImage?: string): Promise<DumpChecker | undefined> {
  const containers = await engine.listContainers(project);
  const db = containers.find((c) => c.service === 'db');
  const image = db?.imageId ?? fallbackImage;
  if (!image) return undefined;
  let id = db?.id ?? '';
  let dispose = async (): Promise<void> => undefined;
  if (db?.state !== 'running') {
    const scratch = await engine.startScratch(image);
    id = scratch.id;
    dispose = scratch.dispose;
  }
  return {
    dispose,
    async check(dump, signal) {
      const lines = new LineCounter();
      // pg_restore stops after the table of contents; cat drains the rest so the stream always ends cleanly.
      const result = await engine.exec(id, {
        cmd: ['sh', '-c', 'pg_restore --list; s=$?; cat >/dev/null; exit $s'],
        user: 'postgres',
        stdin: dump,
        stdout: lines,
        ...(signal ? { signal } : {}),
      });
      if (result.exitCode !== 0) return { ok: false, message: result.stderr.trim().split('\n').slice(-3).join(' ') || `pg_restore exit ${result.exitCode}` };
      return { ok: true, items: lines.lines };
    },
  };
}
