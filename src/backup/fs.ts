export { syncDir } from '../files/atomic-write.js';
import { open } from 'node:fs/promises';

/** fsync a file that a stream has written and closed. */
export async function fsyncFile(path: string): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
