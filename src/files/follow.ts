import type { FileHandle } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/** How long to wait for more bytes when the reader has caught up with the writer. */
const POLL_MS = 10;
const READ_BYTES = 1024 * 1024;

/**
 * Read a file from `start` while another process appends to it, until `writer` (that process)
 * settles and the last bytes are read. Each chunk is handed to `onChunk` before the next read (it
 * is a view of a buffer that the next read overwrites: hash it, count it, do not keep it). The
 * appended bytes are read back from the page cache, at a small cost next to the writer's. Returns
 * the bytes read; the writer's own failure is for the caller to await.
 */
export async function followFile(handle: FileHandle, start: number, writer: Promise<unknown>, onChunk: (chunk: Buffer) => void, signal: AbortSignal): Promise<number> {
  let settled = false;
  const finished = writer.then(
    () => (settled = true),
    () => (settled = true),
  );
  const buffer = Buffer.allocUnsafe(READ_BYTES);
  let position = start;
  for (;;) {
    signal.throwIfAborted();
    // Read after seeing the writer settled: whatever it wrote before it ended is in the file.
    const ended = settled;
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
    if (bytesRead > 0) {
      onChunk(buffer.subarray(0, bytesRead));
      position += bytesRead;
      continue;
    }
    if (ended) return position - start;
    await Promise.race([sleep(POLL_MS, undefined, { signal }), finished]);
  }
}
