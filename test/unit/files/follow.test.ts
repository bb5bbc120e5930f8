import { createHash } from 'node:crypto';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { followFile } from '../../../src/files/follow.js';

let work: string;
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'msting-follow-'));
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Appends `pieces` one at a time, letting the reader run between them; the last just before it ends. */
async function appendInPieces(path: string, pieces: Buffer[]): Promise<void> {
  const handle = await open(path, 'a');
  try {
    for (const piece of pieces) {
      await handle.write(piece);
      await new Promise((resolve) => setImmediate(resolve));
    }
  } finally {
    await handle.close();
  }
}

describe('followFile', () => {
  it('reads everything another writer appends after the start, up to its last byte', async () => {
    const path = join(work, 'growing');
    await writeFile(path, 'HEAD');
    const pieces = Array.from({ length: 40 }, (_, i) => Buffer.alloc(100_000 + i, i));
    const reader = await open(path, 'r');
    const hash = createHash('sha256');
    const n = await followFile(reader, 4, appendInPieces(path, pieces), (chunk) => hash.update(chunk), new AbortController().signal);
    await reader.close();
    const all = Buffer.concat(pieces);
    expect(n).toBe(all.length);
    expect(hash.digest('hex')).toBe(createHash('sha256').update(all).digest('hex'));
  });

  it('returns what was written when the writer fails, leaving its error to the caller', async () => {
    const path = join(work, 'broken');
    await writeFile(path, '');
    const writer = (async () => {
      await appendInPieces(path, [Buffer.alloc(5000, 1)]);
      throw new Error('engine went away');
    })();
    const reader = await open(path, 'r');
    const n = await followFile(reader, 0, writer, () => undefined, new AbortController().signal);
    await reader.close();
    expect(n).toBe(5000);
    await expect(writer).rejects.toThrow('engine went away');
  });

  it('stops when aborted, while the writer still runs', async () => {
    const path = join(work, 'stalled');
    await writeFile(path, '');
    const abort = new AbortController();
    let release = (): void => undefined;
    const writer = new Promise<void>((resolve) => (release = resolve));
    const reader = await open(path, 'r');
    const following = followFile(reader, 0, writer, () => undefined, abort.signal);
    abort.abort();
    await expect(following).rejects.toThrow(/abort/i);
    release();
    await reader.close();
  });
});
