import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { blobPath, repoPaths } from '../../src/models/cache-layout.js';
import { linkSnapshotFile, writeRef } from '../../src/models/snapshot.js';

/**
 * A model laid out in a models directory the way `msting models download` leaves it (the Hugging
 * Face cache layout: blobs named by their sha256, snapshot links, refs/<revision>), with msting's
 * own code. Returns the commit.
 */
export async function layOutModel(modelsDir: string, repo: string, revision: string, files: Record<string, string>): Promise<string> {
  const commit = createHash('sha1').update(`${repo}@${revision}`).digest('hex');
  const paths = repoPaths(modelsDir, repo);
  await mkdir(paths.blobs, { recursive: true });
  for (const [path, content] of Object.entries(files)) {
    const etag = createHash('sha256').update(content).digest('hex');
    await writeFile(blobPath(paths, etag), content);
    await linkSnapshotFile(paths, commit, path, etag);
  }
  await writeRef(paths, revision, commit);
  return commit;
}
