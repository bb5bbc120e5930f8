import { copyFile, lstat, mkdir, readlink, rename, rm, symlink } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { writeFileAtomic } from '../files/atomic-write.js';
import { blobPath, refPath, snapshotFile, symlinkTarget, type RepoPaths } from './cache-layout.js';

/**
 * Put a verified blob into the snapshot as a relative symlink (a copy where the file system has
 * no symlinks), replacing a wrong or dangling link atomically.
 */
export async function linkSnapshotFile(paths: RepoPaths, commit: string, file: string, etag: string): Promise<void> {
  const link = snapshotFile(paths, commit, file);
  const target = symlinkTarget(paths, commit, file, etag);
  await mkdir(dirname(link), { recursive: true });
  try {
    const l = await lstat(link);
    if (l.isSymbolicLink() && resolve(dirname(link), await readlink(link)) === blobPath(paths, etag)) return;
  } catch {
    // not there yet
  }
  const tmp = `${link}.${process.pid}.tmp`;
  await rm(tmp, { force: true });
  try {
    await symlink(target, tmp);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw err;
    await copyFile(blobPath(paths, etag), tmp);
  }
  await rename(tmp, link);
}

/** refs/<revision> holds the commit the revision resolved to (not written when the revision is that commit). */
export async function writeRef(paths: RepoPaths, revision: string, commit: string): Promise<void> {
  if (revision === commit) return;
  await writeFileAtomic(refPath(paths, revision), commit);
}
