import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openFlushingFile } from '../../../src/files/flushing-file.js';

let work: string;
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'msting-flush-'));
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Chunks of 64 KiB, each filled with its own index, calling `each` after every one. */
function chunks(count: number, each: () => void): Readable {
  return Readable.from(
    (function* () {
      for (let i = 0; i < count; i++) {
        yield Buffer.alloc(64 * 1024, i % 251);
        each();
      }
    })(),
  );
}

describe('a file flushed to disk as it grows', () => {
  it('holds every byte, in order, with flushes started along the way, and its mode', async () => {
    const path = join(work, 'big.bin');
    const file = await openFlushingFile(path, { mode: 0o640, flushBytes: 256 * 1024 });
    await pipeline(chunks(64, () => file.flushIfDue()), file.stream);
    await file.close();
    const data = await readFile(path);
    expect(data.length).toBe(64 * 64 * 1024);
    for (let i = 0; i < 64; i++) expect(data[i * 64 * 1024 + 7]).toBe(i % 251);
    expect((await stat(path)).mode & 0o777).toBe(0o640 & ~process.umask());
    expect(file.stream.closed).toBe(true);
  });

  it('a stream that failed half-way is abandoned without throwing, and its descriptor is closed once', async () => {
    const path = join(work, 'half.bin');
    const file = await openFlushingFile(path, { mode: 0o644, flushBytes: 64 * 1024 });
    const failing = Readable.from(
      (async function* () {
        yield Buffer.alloc(128 * 1024);
        file.flushIfDue();
        throw new Error('the engine broke off');
      })(),
    );
    await expect(pipeline(failing, file.stream)).rejects.toThrow('the engine broke off');
    await file.abandon();
    expect(file.stream.closed).toBe(true);
  });
});
