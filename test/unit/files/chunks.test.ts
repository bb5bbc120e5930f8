import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { chunksOf } from '../../../src/files/chunks.js';

describe('chunksOf', () => {
  it('hands on each chunk as the stream received it, in order, without joining them', async () => {
    const sent = Array.from({ length: 50 }, (_, i) => Buffer.alloc(1000 + i, i));
    const got: Buffer[] = [];
    for await (const c of chunksOf(Readable.from(sent), 4)) got.push(c);
    expect(got.length).toBe(50);
    expect(got.every((c, i) => c.equals(sent[i]!))).toBe(true);
  });

  it('pauses a fast stream while chunks wait, so memory stays bounded', async () => {
    const source = new PassThrough();
    for (let i = 0; i < 40; i++) source.write(Buffer.alloc(16, i));
    source.end();
    const it = chunksOf(source, 8);
    const first = await it.next();
    expect(first.value).toEqual(Buffer.alloc(16, 0));
    // Flowing stopped once 8 chunks waited: the rest is still in the stream's own buffer.
    expect(source.isPaused()).toBe(true);
    let n = 1;
    for await (const _ of it) n += 1;
    expect(n).toBe(40);
  });

  it('fails with the stream\'s error after the chunks that came before it', async () => {
    const source = new PassThrough();
    source.write(Buffer.from('one'));
    const got: string[] = [];
    const done = (async () => {
      for await (const c of chunksOf(source)) {
        got.push(c.toString());
        source.destroy(new Error('the engine closed the connection'));
      }
    })();
    await expect(done).rejects.toThrow('the engine closed the connection');
    expect(got).toEqual(['one']);
  });

  it('destroys the stream when the reader stops early', async () => {
    const source = new PassThrough();
    source.write(Buffer.from('a'));
    source.write(Buffer.from('b'));
    for await (const _ of chunksOf(source)) break;
    expect(source.destroyed).toBe(true);
  });
});
