import { PassThrough, Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { ArchiveWriter } from '../../../src/backup/archive.js';

/** A volume's tar stream: a small file and a 1 MiB one. */
async function volumeTar(): Promise<Buffer> {
  const pack = tar.pack();
  pack.entry({ name: './', type: 'directory' });
  pack.entry({ name: './note.txt', size: 6, uid: 1000, gid: 1001, mode: 0o640 }, 'hello\n');
  pack.entry({ name: './big.bin', size: 1 << 20 }, Buffer.alloc(1 << 20, 0x78));
  pack.finalize();
  const parts: Buffer[] = [];
  for await (const chunk of pack as unknown as AsyncIterable<Buffer>) parts.push(chunk);
  return Buffer.concat(parts);
}

/** Every entry the writer produced: name, size and owner. */
async function written(writer: ArchiveWriter): Promise<Array<{ name: string; size: number; uid: number }>> {
  const extract = tar.extract();
  (writer.pack as unknown as Readable).pipe(extract as unknown as NodeJS.WritableStream);
  const out: Array<{ name: string; size: number; uid: number }> = [];
  for await (const entry of extract) {
    out.push({ name: entry.header.name, size: entry.header.size ?? 0, uid: entry.header.uid ?? 0 });
    entry.resume();
  }
  return out;
}

describe('ArchiveWriter.addTarStream', () => {
  it('copies a volume under its prefix, keeping owners, and counts its files and bytes', async () => {
    const writer = new ArchiveWriter();
    const entries = written(writer);
    const copied = await writer.addTarStream('volumes/uploads', Readable.from([await volumeTar()]));
    writer.pack.finalize();
    expect(copied).toEqual({ files: 2, bytes: 6 + (1 << 20) });
    expect(await entries).toEqual([
      { name: 'volumes/uploads/', size: 0, uid: 0 },
      { name: 'volumes/uploads/note.txt', size: 6, uid: 1000 },
      { name: 'volumes/uploads/big.bin', size: 1 << 20, uid: 0 },
    ]);
    expect(writer.entries.map((e) => e.path)).toEqual(['volumes/uploads/note.txt', 'volumes/uploads/big.bin']);
  });

  it('fails with the reader\'s own error when the volume stream breaks inside a file, without hanging', async () => {
    const data = await volumeTar();
    const writer = new ArchiveWriter();
    writer.pack.on("error", () => undefined).resume();
    const source = new PassThrough();
    // The header of big.bin and part of its data, then the reader is cut off (an abort, a dead helper).
    source.write(data.subarray(0, 200_000));
    setTimeout(() => source.destroy(new Error('interrupted')), 20);
    await expect(writer.addTarStream('volumes/knowledge_data', source)).rejects.toThrow('interrupted');
  });

  it('fails with the reader\'s error when the stream breaks between entries', async () => {
    const writer = new ArchiveWriter();
    writer.pack.on("error", () => undefined).resume();
    const source = new PassThrough();
    source.write((await volumeTar()).subarray(0, 1024));
    setTimeout(() => source.destroy(new Error('tar of volume failed')), 20);
    await expect(writer.addTarStream('volumes/uploads', source)).rejects.toThrow('tar of volume failed');
  });
});
