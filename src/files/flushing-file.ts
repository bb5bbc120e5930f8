import { once } from 'node:events';
import { createWriteStream, fdatasync, fsync, open as openFd, type WriteStream } from 'node:fs';
import { promisify } from 'node:util';

// A plain descriptor, not a FileHandle: a stream refs a FileHandle until the stream is destroyed,
// and destroying it closes the handle before the final fsync.
const openAsync = promisify(openFd);
const datasyncAsync = promisify(fdatasync);
const fsyncAsync = promisify(fsync);

/**
 * A large file written through a stream and made durable as it grows: every `flushBytes` written,
 * an fdatasync starts in the background (on libuv's thread pool, never more than one at a time),
 * so the disk writes while the stream is still being produced, and the closing fsync finds little
 * left to write. Syncing only at the end left the whole file in the page cache and then waited
 * for all of it, after the work that produced it was done.
 */
export interface FlushingFile {
  readonly stream: WriteStream;
  /** The descriptor the stream writes to (for a child process to write to, say). */
  readonly fd: number;
  /** Call as data is written (after each part, say): starts a background flush when due. */
  flushIfDue(): void;
  /** Another process appended `n` bytes to the file: counted for flushIfDue (fdatasync flushes the file, whoever wrote it). */
  grew(n: number): void;
  /** After the stream has finished: waits for a background flush, fsyncs, closes. */
  close(): Promise<void>;
  /** On failure: closes without syncing (the caller removes the file). */
  abandon(): Promise<void>;
}

export const FLUSH_BYTES = 32 * 1024 * 1024;

/**
 * `append`: every write goes to the end of the file (O_APPEND), so another process that appends
 * to it between the stream's writes is not overwritten.
 */
export async function openFlushingFile(path: string, options: { mode: number; flushBytes?: number; highWaterMark?: number; append?: boolean }): Promise<FlushingFile> {
  const fd = await openAsync(path, options.append ? 'a' : 'w', options.mode);
  const flushBytes = options.flushBytes ?? FLUSH_BYTES;
  const stream = createWriteStream('', { fd, autoClose: false, highWaterMark: options.highWaterMark ?? 1024 * 1024 });
  let flushed = 0;
  let others = 0;
  let inFlight: Promise<unknown> | null = null;
  let flushError: unknown = null;
  let ending = false;
  // The stream owns the descriptor's closing: destroying it waits for a write in progress, then
  // closes it once (a stream the pipeline destroyed on an error has closed it already).
  const release = async (): Promise<void> => {
    if (stream.closed) return;
    const closed = once(stream, 'close').catch(() => undefined);
    stream.destroy();
    await closed;
  };
  const settle = async (): Promise<void> => {
    await inFlight;
    if (flushError) throw flushError;
  };
  return {
    stream,
    fd,
    flushIfDue() {
      if (inFlight || ending || stream.bytesWritten + others - flushed < flushBytes) return;
      const upTo = stream.bytesWritten + others;
      inFlight = datasyncAsync(fd).then(
        () => {
          flushed = upTo;
          inFlight = null;
        },
        (err: unknown) => {
          flushError ??= err;
          inFlight = null;
        },
      );
    },
    grew(n) {
      others += n;
    },
    async close() {
      ending = true;
      try {
        await settle();
        await fsyncAsync(fd);
      } finally {
        await release();
      }
    },
    async abandon() {
      ending = true;
      await inFlight;
      await release();
    },
  };
}
