import { BackupCryptoError, type KeySource } from './crypto-format.js';
import type { Manifest } from './archive.js';
import type { DumpChecker } from './postgres.js';
import { archiveKind, walkArchive, type ArchiveKind } from './read.js';

export interface VerifyReport {
  ok: boolean;
  kind: ArchiveKind | undefined;
  manifest: Manifest | undefined;
  problems: string[];
  /** Set when the archive could not be opened or authenticated at all. */
  cryptoError?: BackupCryptoError;
  dumps: Array<{ path: string; ok: boolean; items?: number; message?: string }>;
  files: number;
  bytes: number;
}

/**
 * Read the whole archive: every chunk authenticated (when encrypted), every file hashed against
 * the manifest, every database dump listed by `pg_restore --list`. Never throws for a bad archive:
 * the report says what is wrong.
 */
export async function verifyArchive(
  path: string,
  keys: KeySource,
  checker: DumpChecker | undefined,
  options: { signal?: AbortSignal; onBytes?: (n: number) => void } = {},
): Promise<VerifyReport> {
  const dumps: VerifyReport['dumps'] = [];
  let bytes = 0;
  try {
    const walked = await walkArchive(
      path,
      keys,
      async (entry) => {
        if (entry.header.type !== 'file') return;
        bytes += entry.header.size;
        if (entry.path.startsWith('db/') && entry.path.endsWith('.dump')) {
          if (!checker) {
            dumps.push({ path: entry.path, ok: false, message: 'no database container or image to run pg_restore --list in' });
            return;
          }
          const result = await checker.check(entry.stream, options.signal);
          dumps.push(result.ok ? { path: entry.path, ok: true, items: result.items } : { path: entry.path, ok: false, message: result.message });
        }
      },
      options,
    );
    const problems = [...walked.problems];
    for (const d of dumps) if (!d.ok) problems.push(`${d.path}: pg_restore --list failed: ${d.message}`);
    if (walked.manifest) {
      for (const db of walked.manifest.databases) if (!walked.seen.has(db.path)) problems.push(`database dump ${db.path} is missing`);
      if (!walked.seen.has('db/globals.sql')) problems.push('db/globals.sql (roles) is missing');
    }
    return { ok: problems.length === 0, kind: walked.kind, manifest: walked.manifest, problems, dumps, files: walked.seen.size, bytes };
  } catch (err) {
    if (err instanceof BackupCryptoError) {
      return { ok: false, kind: await archiveKind(path).catch(() => undefined), manifest: undefined, problems: [err.message], cryptoError: err, dumps, files: 0, bytes };
    }
    throw err;
  }
}
