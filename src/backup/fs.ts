import { open } from 'node:fs/promises';

/** fsync a directory so a rename in it survives a crash; some file systems refuse, which is fine. */
export async function syncDir(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // The rename is still atomic where a directory cannot be fsynced.
  }
}

/** fsync a file that a stream has written and closed. */
export async function fsyncFile(path: string): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
