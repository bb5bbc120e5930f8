import { compareText } from '../compare.js';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { writeFileAtomic } from '../files/atomic-write.js';
import { parseArchiveName, planPrune } from './plan.js';

/** Verification results, kept next to the archives they describe. */
export const STATE_FILE = 'backup-state.json';

export interface VerificationRecord {
  at: string;
  ok: boolean;
  problems: string[];
}

interface StateFile {
  verifications: Record<string, VerificationRecord>;
}

async function readState(dir: string): Promise<StateFile> {
  try {
    const parsed = JSON.parse(await readFile(join(dir, STATE_FILE), 'utf8')) as Partial<StateFile>;
    return { verifications: parsed.verifications ?? {} };
  } catch {
    return { verifications: {} };
  }
}

export async function recordVerification(archive: string, record: VerificationRecord): Promise<void> {
  const dir = dirname(archive);
  const state = await readState(dir);
  state.verifications[basename(archive)] = record;
  await writeFileAtomic(join(dir, STATE_FILE), `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
}

export interface ArchiveListing {
  name: string;
  path: string;
  project: string;
  created: string;
  size: number;
  encrypted: boolean;
  lastVerified: VerificationRecord | null;
}

/** Every archive in a directory, newest first. */
export async function listArchives(dir: string): Promise<ArchiveListing[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const state = await readState(dir);
  const out: ArchiveListing[] = [];
  for (const name of names) {
    const parsed = parseArchiveName(name);
    if (!parsed) continue;
    const path = join(dir, name);
    const info = await stat(path).catch(() => undefined);
    if (!info?.isFile()) continue;
    out.push({
      name,
      path,
      project: parsed.project,
      created: parsed.created.toISOString(),
      size: info.size,
      encrypted: parsed.encrypted,
      lastVerified: state.verifications[name] ?? null,
    });
  }
  return out.sort((a, b) => compareText(b.created, a.created) || compareText(b.name, a.name));
}

/** Delete all but the newest `keep` archives of a project; returns the deleted paths. */
export async function pruneArchives(dir: string, project: string, keep: number): Promise<string[]> {
  const doomed = planPrune(await readdir(dir), project, keep);
  const state = await readState(dir);
  for (const name of doomed) {
    await rm(join(dir, name), { force: true });
    delete state.verifications[name];
  }
  if (doomed.length > 0) {
    await writeFileAtomic(join(dir, STATE_FILE), `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 }).catch(() => undefined);
  }
  return doomed.map((n) => join(dir, n));
}

/**
 * Leftover temporary files of a run that was killed (Ctrl-C cleans up after itself). Only files
 * untouched for ten minutes go, so a backup running beside this one keeps its own.
 */
export async function removeLeftovers(dir: string, now = Date.now()): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const stale: string[] = [];
  for (const n of names) {
    if (!/^\.msting-backup-.*\.partial$/.test(n) && !n.startsWith('.msting-spool-')) continue;
    const info = await stat(join(dir, n)).catch(() => undefined);
    if (info && now - info.mtimeMs > 10 * 60 * 1000) {
      await rm(join(dir, n), { force: true });
      stale.push(n);
    }
  }
  return stale;
}
