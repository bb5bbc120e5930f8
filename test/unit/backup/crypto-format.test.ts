import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import {
  BackupCryptoError,
  CHUNK_SIZE,
  DecryptStream,
  ENCRYPTED_CHUNK_SIZE,
  EncryptStream,
  buildHeader,
  keyIdOf,
  nonceFor,
  scryptKey,
  sha256Hex,
  type KdfParams,
  type KeySource,
} from '../../../src/backup/crypto-format.js';

const KEY = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
const SALT = Buffer.from(Array.from({ length: 32 }, (_, i) => 0x20 + i));

async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

/** Feed the input in irregular pieces so chunk boundaries never line up with writes. */
function pieces(data: Buffer, size = 7919): Readable {
  return Readable.from(
    (function* () {
      for (let off = 0; off < data.length; off += size) yield data.subarray(off, off + size);
    })(),
  );
}

async function encryptWithKey(plain: Buffer, key = KEY, salt?: Buffer): Promise<Buffer> {
  const { header, payloadKey } = buildHeader(key, { kind: 'key-file', keyId: keyIdOf(key) }, salt);
  const enc = new EncryptStream(header, payloadKey);
  const out = collect(enc);
  await pipeline(pieces(plain), enc);
  return out;
}

async function decrypt(sealed: Buffer, source: KeySource = { keyFile: async () => KEY }): Promise<Buffer> {
  const dec = new DecryptStream(source);
  const [out] = await Promise.all([collect(dec), pipeline(pieces(sealed, 65_000), dec)]);
  return out;
}

async function failure(sealed: Buffer, source?: KeySource): Promise<BackupCryptoError> {
  try {
    await decrypt(sealed, source);
  } catch (err) {
    expect(err).toBeInstanceOf(BackupCryptoError);
    return err as BackupCryptoError;
  }
  throw new Error('decryption succeeded but should have failed');
}

const HEADER_LEN = 8 + 1 + 1 + 16 + 32 + 32;

describe('encrypted archive format', () => {
  it.each([0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 2 * CHUNK_SIZE, 3 * 1024 * 1024 + 17])('round-trips %i bytes', async (size) => {
    const plain = randomBytes(size);
    const sealed = await encryptWithKey(plain);
    const chunks = Math.max(1, Math.ceil(size / CHUNK_SIZE));
    expect(sealed.length).toBe(HEADER_LEN + size + chunks * 16);
    expect((await decrypt(sealed)).equals(plain)).toBe(true);
  });

  it('uses a fresh payload salt per archive, so one key never reuses a nonce', async () => {
    const plain = Buffer.from('same input');
    const a = await encryptWithKey(plain);
    const b = await encryptWithKey(plain);
    expect(a.equals(b)).toBe(false);
  });

  it('detects a flipped bit anywhere in the payload', async () => {
    const sealed = await encryptWithKey(randomBytes(3 * CHUNK_SIZE + 100));
    for (const at of [HEADER_LEN, HEADER_LEN + ENCRYPTED_CHUNK_SIZE + 5, sealed.length - 1, sealed.length - 20]) {
      const bad = Buffer.from(sealed);
      bad[at]! ^= 0x01;
      expect((await failure(bad)).kind).toBe('tampered');
    }
  });

  it('detects a flipped bit in the header', async () => {
    const sealed = await encryptWithKey(Buffer.from('data'));
    const bad = Buffer.from(sealed);
    bad[HEADER_LEN - 40]! ^= 0x80; // inside the payload salt
    expect((await failure(bad)).kind).toBe('tampered');
    const badId = Buffer.from(sealed);
    badId[12]! ^= 0x01; // inside the key id
    expect((await failure(badId)).kind).toBe('wrong-key');
  });

  it('detects truncation at a chunk boundary, inside a chunk, and inside the header', async () => {
    const sealed = await encryptWithKey(randomBytes(3 * CHUNK_SIZE));
    expect((await failure(sealed.subarray(0, HEADER_LEN + ENCRYPTED_CHUNK_SIZE))).kind).toBe('truncated');
    expect((await failure(sealed.subarray(0, HEADER_LEN + 2 * ENCRYPTED_CHUNK_SIZE))).kind).toBe('truncated');
    expect((await failure(sealed.subarray(0, sealed.length - 1))).kind).toBe('tampered');
    expect((await failure(sealed.subarray(0, HEADER_LEN))).kind).toBe('truncated');
    expect((await failure(sealed.subarray(0, 20))).kind).toBe('truncated');
    expect((await failure(Buffer.alloc(0))).kind).toBe('truncated');
  });

  it('detects reordered and dropped chunks', async () => {
    const sealed = await encryptWithKey(randomBytes(3 * CHUNK_SIZE + 10));
    const h = sealed.subarray(0, HEADER_LEN);
    const c = (i: number) => sealed.subarray(HEADER_LEN + i * ENCRYPTED_CHUNK_SIZE, HEADER_LEN + (i + 1) * ENCRYPTED_CHUNK_SIZE);
    expect((await failure(Buffer.concat([h, c(1), c(0), c(2), c(3)]))).kind).toBe('tampered');
    expect((await failure(Buffer.concat([h, c(0), c(2), c(3)]))).kind).toBe('tampered');
  });

  it('refuses data after the final chunk', async () => {
    const sealed = await encryptWithKey(Buffer.from('short'));
    expect((await failure(Buffer.concat([sealed, Buffer.from('x')]))).kind).toBe('tampered');
    const twice = Buffer.concat([sealed, sealed]);
    expect(['tampered', 'trailing-data']).toContain((await failure(twice)).kind);
  });

  it('refuses a header moved onto another archive payload', async () => {
    const a = await encryptWithKey(Buffer.from('first archive'));
    const b = await encryptWithKey(Buffer.from('second archive'));
    expect((await failure(Buffer.concat([a.subarray(0, HEADER_LEN), b.subarray(HEADER_LEN)]))).kind).toBe('tampered');
  });

  it('names a different key file and a wrong passphrase distinctly', async () => {
    const sealed = await encryptWithKey(Buffer.from('data'));
    const other = await failure(sealed, { keyFile: async () => randomBytes(32) });
    expect(other.kind).toBe('wrong-key');
    expect(other.message).toMatch(/different backup key/);

    const kdf: KdfParams = { kind: 'scrypt', logN: 10, r: 8, p: 1, salt: Buffer.alloc(16, 7) };
    const master = await scryptKey('correct horse', kdf.salt, kdf);
    const { header, payloadKey } = buildHeader(master, kdf);
    const enc = new EncryptStream(header, payloadKey);
    const out = collect(enc);
    await pipeline(Readable.from([Buffer.from('secret rows')]), enc);
    const sealedP = await out;
    expect((await decrypt(sealedP, { passphrase: async () => 'correct horse' })).toString()).toBe('secret rows');
    const wrong = await failure(sealedP, { passphrase: async () => 'wrong horse' });
    expect(wrong.kind).toBe('wrong-passphrase');
    expect(wrong.message).toMatch(/wrong passphrase/);
    expect((await failure(sealedP, { keyFile: async () => KEY })).message).toMatch(/passphrase/);
  });

  it('says when a file is not an encrypted archive at all', async () => {
    expect((await failure(Buffer.from('ustar plain tar data that is long enough'))).kind).toBe('not-encrypted');
  });

  it('builds nonces as an 11-byte big-endian counter and a last-chunk flag', () => {
    expect(nonceFor(0, false).toString('hex')).toBe('000000000000000000000000');
    expect(nonceFor(1, true).toString('hex')).toBe('000000000000000000000101');
    expect(nonceFor(0x0102030405, false).toString('hex')).toBe('000000000000010203040500');
  });

  it('matches the test vector in docs/backup-format.md', async () => {
    const plain = Buffer.from('msting backup test vector\n');
    const sealed = await encryptWithKey(plain, KEY, SALT);
    expect(sealed.subarray(0, HEADER_LEN).toString('hex')).toBe(VECTOR_HEADER);
    expect(sealed.subarray(HEADER_LEN).toString('hex')).toBe(VECTOR_PAYLOAD);
    expect(sha256Hex(sealed)).toBe(VECTOR_SHA256);
    expect((await decrypt(Buffer.from(VECTOR_HEADER + VECTOR_PAYLOAD, 'hex'))).equals(plain)).toBe(true);
  });
});

const VECTOR_HEADER =
  '4d5354424b500d0a0102594af6c571cd719ae2b576cbbdf3443c202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3fa81ee8ef80f171d62be10b38fff0d8a4512a60475950ea1d57bcafca38a2748f';
const VECTOR_PAYLOAD = 'c98a600a1f9c964a9661bb0759851c0900e8f5a2ef1c22dda08e2f7ecf80e80582243e14d5aeb1e5f257';
const VECTOR_SHA256 = '490b6dd8da054eecd31a4d78db882507c1859fc365364f4539cf2c0b412b53b5';
