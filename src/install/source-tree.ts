import { readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { MstingConfig } from '../config/schema.js';
import { MstingError } from '../errors.js';
import type { StingSchema, StingSqlFile } from '../render/postgres.js';

/**
 * A STING-CE source tree (`images.source_dir`): the folder holding `app/`, `chatbot/`,
 * `docker-entrypoint-initdb.d/`, ... (STING-CE's `STING/` folder). What msting reads from it:
 * the database schema (here) and the Dockerfiles its images are built from (install/images.ts).
 */

/** Where STING-CE keeps the SQL PostgreSQL runs on an empty volume, and its later migrations. */
export const SCHEMA_DIRS = { initdb: 'docker-entrypoint-initdb.d', migrations: 'database/migrations' } as const;

/** The source tree's absolute path, or null when config names none. */
export function sourceTreePath(config: MstingConfig, cwd = process.cwd()): string | null {
  return config.images.source_dir === undefined ? null : resolve(cwd, config.images.source_dir);
}

async function sqlFiles(dir: string): Promise<StingSqlFile[] | null> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw ioError(dir, err);
  }
  // Byte order: the order PostgreSQL's entrypoint runs them in (its names are ASCII).
  const sql = names.filter((n) => n.endsWith('.sql')).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return Promise.all(sql.map(async (name) => ({ name, content: await readFile(join(dir, name), 'utf8').catch((err: unknown) => Promise.reject(ioError(join(dir, name), err))) })));
}

function ioError(path: string, err: unknown): MstingError {
  return new MstingError('IO', `cannot read ${path}: ${(err as Error).message}`, { hint: 'check images.source_dir and the permissions of the STING-CE source tree' });
}

/**
 * STING-CE's schema SQL from the tree, or null when config names no tree. A named tree that does
 * not exist, or has no docker-entrypoint-initdb.d, is an error: without it the database would
 * come up without STING-CE's tables, which is only found out when a service fails.
 */
export async function readStingSchema(config: MstingConfig, cwd = process.cwd()): Promise<StingSchema | null> {
  const root = sourceTreePath(config, cwd);
  if (root === null) return null;
  const isDir = await stat(root).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!isDir) {
    throw new MstingError('CONFIG_INVALID', `images.source_dir: ${root} is not a directory`, {
      hint: "point images.source_dir at a STING-CE source tree (the folder with app/, chatbot/ and docker-entrypoint-initdb.d/), or remove it to use published images",
    });
  }
  const initdb = await sqlFiles(join(root, SCHEMA_DIRS.initdb));
  if (initdb === null || initdb.length === 0) {
    throw new MstingError('CONFIG_INVALID', `images.source_dir: ${root} has no ${SCHEMA_DIRS.initdb}/*.sql, STING-CE's database schema`, {
      hint: 'point images.source_dir at the STING folder of a STING-CE checkout (it holds docker-entrypoint-initdb.d/)',
    });
  }
  return { initdb, migrations: (await sqlFiles(join(root, SCHEMA_DIRS.migrations))) ?? [] };
}
