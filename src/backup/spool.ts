import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Transform, type Readable, type TransformCallback, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DecryptStream, EncryptStream, buildHeader, keyIdOf } from './crypto-format.js';

/**
 * A tar header needs the entry's size before its data, and a database dump's size is known only
 * when the dump ends. A spool holds such a stream on disk until then, encrypted with a random key
 * that lives only in memory: a spool file left behind by a crash is unreadable noise.
 */
export interface Spool {
  /** Where to stream the data. End it to finish. */
  input: Writable;
  /** Resolves when the data is on disk: its size and SHA-256. */
  done: Promise<{ size: number; sha256: string; head: Buffer }>;
  /** The data back, authenticated chunk by chunk. */
  open(): Readable;
  dispose(): Promise<void>;
}

/** Counts, hashes and keeps the first bytes of what flows through. */
export class Meter extends Transform {
  readonly hash = createHash('sha256');
  bytes = 0;
  head = Buffer.alloc(0);
  private readonly onBytes: ((n: number) => void) | undefined;

  constructor(onBytes?: (n: number) => void) {
    super();
    this.onBytes = onBytes;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    if (this.head.length < 16) this.head = Buffer.concat([this.head, chunk.subarray(0, 16 - this.head.length)]);
    this.onBytes?.(chunk.length);
    done(null, chunk);
  }
}

export function createSpool(dir: string, onBytes?: (n: number) => void): Spool {
  const path = join(dir, `.msting-spool-${process.pid}-${randomBytes(6).toString('hex')}`);
  const key = randomBytes(32);
  const { header, payloadKey } = buildHeader(key, { kind: 'key-file', keyId: keyIdOf(key) });
  const input = new PassThrough();
  const meter = new Meter(onBytes);
  const done = pipeline(input, meter, new EncryptStream(header, payloadKey), createWriteStream(path, { mode: 0o600 })).then(() => ({
    size: meter.bytes,
    sha256: meter.hash.digest('hex'),
    head: meter.head,
  }));
  // The caller awaits `done`; keep an early failure from surfacing as an unhandled rejection.
  done.catch(() => undefined);
  return {
    input,
    done,
    open: () => {
      const plain = new DecryptStream({ keyFile: async () => key });
      const file = createReadStream(path);
      file.on('error', (err) => plain.destroy(err));
      return file.pipe(plain);
    },
    dispose: () => rm(path, { force: true }),
  };
}
