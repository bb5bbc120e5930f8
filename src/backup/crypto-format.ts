import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, scrypt as scryptCb, timingSafeEqual, createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { MstingError } from '../errors.js';

/**
 * The encrypted archive format, version 1 (docs/backup-format.md is the normative text):
 *
 *   header  = magic(8) version(1) kdf(1) kdf-params payload-salt(32) header-mac(32)
 *   payload = chunk*  ; AES-256-GCM, 64 KiB of plaintext per chunk, tag(16) appended
 *
 * The payload key and the header MAC key come from the master key (scrypt of a passphrase, or a
 * 32-byte key file) through HKDF-SHA-256 salted with the per-archive payload salt, so one key file
 * can encrypt any number of archives without ever reusing a (key, nonce) pair. Each chunk's nonce
 * is an 11-byte big-endian counter and a last-chunk flag (the STREAM construction), and the whole
 * header is the AAD of every chunk: truncation, reordering, a flipped bit or a swapped header all
 * fail authentication.
 */

export const MAGIC = Buffer.from('MSTBKP\r\n', 'latin1');
export const FORMAT_VERSION = 1;
export const CHUNK_SIZE = 64 * 1024;
export const TAG_SIZE = 16;
export const ENCRYPTED_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE;
export const PAYLOAD_SALT_SIZE = 32;
export const HEADER_MAC_SIZE = 32;
export const SCRYPT_SALT_SIZE = 16;
export const KEY_ID_SIZE = 16;

export const KDF_SCRYPT = 1;
export const KDF_KEY_FILE = 2;

/** scrypt work factor written by this version: N = 2^16, r = 8, p = 2: 64 MiB of memory (the backup's whole budget is under 200 MB), the work of N = 2^17. */
export const DEFAULT_SCRYPT = { logN: 16, r: 8, p: 2 } as const;
/** Readers refuse more than this, so a crafted header cannot make them allocate gigabytes. */
const MAX_LOG_N = 20;
const MAX_R = 32;
const MAX_P = 16;

const INFO_PAYLOAD = Buffer.from('msting-backup v1 payload', 'latin1');
const INFO_HEADER = Buffer.from('msting-backup v1 header', 'latin1');
const INFO_KEY_ID = Buffer.from('msting-backup v1 key id', 'latin1');

export type KdfParams =
  | { kind: 'scrypt'; logN: number; r: number; p: number; salt: Buffer }
  | { kind: 'key-file'; keyId: Buffer };

export interface ParsedHeader {
  version: number;
  kdf: KdfParams;
  payloadSalt: Buffer;
  mac: Buffer;
  /** The exact header bytes (MAC included): the AAD of every chunk. */
  bytes: Buffer;
}

/** How the master key is obtained; the passphrase is asked for only when the header says scrypt. */
export interface KeySource {
  passphrase?: () => Promise<string>;
  keyFile?: () => Promise<Buffer>;
  /** The operator gave a passphrase (file or environment) without being asked. */
  passphraseOffered?: boolean;
}

export type BackupCryptoErrorKind = 'not-encrypted' | 'bad-header' | 'unsupported' | 'wrong-key' | 'wrong-passphrase' | 'tampered' | 'truncated' | 'trailing-data';

/** Thrown for every way an encrypted archive can fail to open; `kind` lets callers and tests tell them apart. */
export class BackupCryptoError extends MstingError {
  readonly kind: BackupCryptoErrorKind;
  constructor(kind: BackupCryptoErrorKind, message: string, hint: string) {
    super('BACKUP_INVALID', message, { hint });
    this.kind = kind;
  }
}

/** The key id written for key-file archives: a one-way tag of the key, never the key itself. */
export function keyIdOf(key: Buffer): Buffer {
  return createHmac('sha256', key).update(INFO_KEY_ID).digest().subarray(0, KEY_ID_SIZE);
}

export function scryptKey(passphrase: string, salt: Buffer, params: { logN: number; r: number; p: number }): Promise<Buffer> {
  const N = 2 ** params.logN;
  return new Promise((resolve, reject) => {
    scryptCb(Buffer.from(passphrase.normalize('NFC'), 'utf8'), salt, 32, { N, r: params.r, p: params.p, maxmem: 128 * N * params.r + 16 * 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

function deriveKeys(master: Buffer, payloadSalt: Buffer): { payloadKey: Buffer; macKey: Buffer } {
  return {
    payloadKey: Buffer.from(hkdfSync('sha256', master, payloadSalt, INFO_PAYLOAD, 32)),
    macKey: Buffer.from(hkdfSync('sha256', master, payloadSalt, INFO_HEADER, 32)),
  };
}

function kdfBytes(kdf: KdfParams): Buffer {
  if (kdf.kind === 'scrypt') {
    const b = Buffer.alloc(1 + 1 + 4 + 4 + SCRYPT_SALT_SIZE);
    b[0] = KDF_SCRYPT;
    b[1] = kdf.logN;
    b.writeUInt32BE(kdf.r, 2);
    b.writeUInt32BE(kdf.p, 6);
    kdf.salt.copy(b, 10);
    return b;
  }
  return Buffer.concat([Buffer.from([KDF_KEY_FILE]), kdf.keyId]);
}

/** Build the header for a master key; the MAC binds every field to the key. */
export function buildHeader(master: Buffer, kdf: KdfParams, payloadSalt: Buffer = randomBytes(PAYLOAD_SALT_SIZE)): { header: Buffer; payloadKey: Buffer } {
  const body = Buffer.concat([MAGIC, Buffer.from([FORMAT_VERSION]), kdfBytes(kdf), payloadSalt]);
  const { payloadKey, macKey } = deriveKeys(master, payloadSalt);
  const mac = createHmac('sha256', macKey).update(body).digest();
  return { header: Buffer.concat([body, mac]), payloadKey };
}

/** Length of the header that starts with these bytes, or undefined if more bytes are needed. */
export function headerLength(prefix: Buffer): number | undefined {
  if (prefix.length < MAGIC.length + 2) return undefined;
  checkMagic(prefix);
  const kdf = prefix[MAGIC.length + 1];
  const base = MAGIC.length + 1;
  if (kdf === KDF_SCRYPT) return base + 1 + 1 + 4 + 4 + SCRYPT_SALT_SIZE + PAYLOAD_SALT_SIZE + HEADER_MAC_SIZE;
  if (kdf === KDF_KEY_FILE) return base + 1 + KEY_ID_SIZE + PAYLOAD_SALT_SIZE + HEADER_MAC_SIZE;
  throw new BackupCryptoError('unsupported', `unknown key derivation id ${kdf} in the archive header`, 'the archive was written by a newer msting, or is damaged');
}

function checkMagic(prefix: Buffer): void {
  if (!prefix.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new BackupCryptoError('not-encrypted', 'this file is not an encrypted msting backup', 'a plain archive needs no decryption; check the file name');
  }
  const version = prefix[MAGIC.length];
  if (version !== FORMAT_VERSION) {
    throw new BackupCryptoError('unsupported', `encrypted backup format version ${version} is not supported (this msting reads version ${FORMAT_VERSION})`, 'use the msting release that wrote the archive');
  }
}

export function parseHeader(bytes: Buffer): ParsedHeader {
  const length = headerLength(bytes);
  if (length === undefined || bytes.length < length) {
    throw new BackupCryptoError('truncated', 'the archive ends inside its header', 'the file is truncated; use another copy');
  }
  const b = bytes.subarray(0, length);
  let off = MAGIC.length + 1;
  const id = b[off++];
  let kdf: KdfParams;
  if (id === KDF_SCRYPT) {
    const logN = b[off]!;
    const r = b.readUInt32BE(off + 1);
    const p = b.readUInt32BE(off + 5);
    const salt = Buffer.from(b.subarray(off + 9, off + 9 + SCRYPT_SALT_SIZE));
    off += 9 + SCRYPT_SALT_SIZE;
    if (logN < 1 || logN > MAX_LOG_N || r < 1 || r > MAX_R || p < 1 || p > MAX_P) {
      throw new BackupCryptoError('unsupported', `scrypt parameters out of range (logN ${logN}, r ${r}, p ${p})`, 'the header is damaged or was not written by msting');
    }
    kdf = { kind: 'scrypt', logN, r, p, salt };
  } else {
    kdf = { kind: 'key-file', keyId: Buffer.from(b.subarray(off, off + KEY_ID_SIZE)) };
    off += KEY_ID_SIZE;
  }
  const payloadSalt = Buffer.from(b.subarray(off, off + PAYLOAD_SALT_SIZE));
  const mac = Buffer.from(b.subarray(off + PAYLOAD_SALT_SIZE, off + PAYLOAD_SALT_SIZE + HEADER_MAC_SIZE));
  return { version: FORMAT_VERSION, kdf, payloadSalt, mac, bytes: Buffer.from(b) };
}

/** Check the header MAC with a master key and return the payload key, or throw a precise error. */
export function openHeader(header: ParsedHeader, master: Buffer): Buffer {
  if (header.kdf.kind === 'key-file' && !timingSafeEqual(keyIdOf(master), header.kdf.keyId)) {
    throw new BackupCryptoError(
      'wrong-key',
      `this archive was encrypted with a different backup key (key id ${header.kdf.keyId.toString('hex')}, this key is ${keyIdOf(master).toString('hex')})`,
      'pass the key file that was in <home>/secrets/backup.key when the archive was made, with --key-file',
    );
  }
  const { payloadKey, macKey } = deriveKeys(master, header.payloadSalt);
  const body = header.bytes.subarray(0, header.bytes.length - HEADER_MAC_SIZE);
  const expected = createHmac('sha256', macKey).update(body).digest();
  if (!timingSafeEqual(expected, header.mac)) {
    if (header.kdf.kind === 'scrypt') {
      throw new BackupCryptoError('wrong-passphrase', 'wrong passphrase: the archive header does not authenticate with it', 'check the passphrase (MSTING_BACKUP_PASSPHRASE, --passphrase-file or the prompt)');
    }
    throw new BackupCryptoError('tampered', 'the archive header failed authentication: it is damaged or was altered', 'use another copy of the archive');
  }
  return payloadKey;
}

/** Derive the master key the header asks for, from the sources the caller offers. */
export async function masterKeyFor(header: ParsedHeader, source: KeySource): Promise<Buffer> {
  if (header.kdf.kind === 'scrypt') {
    if (!source.passphrase) {
      throw new BackupCryptoError('wrong-key', 'this archive is encrypted with a passphrase', 'give it with --passphrase-file FILE or MSTING_BACKUP_PASSPHRASE, or run on a terminal to be asked');
    }
    return scryptKey(await source.passphrase(), header.kdf.salt, header.kdf);
  }
  const needs = `this archive is encrypted with a backup key file (key id ${header.kdf.keyId.toString('hex')}), not a passphrase`;
  const hint = 'give the key file that was in <home>/secrets/backup.key when the archive was made with --key-file FILE';
  if (!source.keyFile) throw new BackupCryptoError('wrong-key', needs, hint);
  try {
    return await source.keyFile();
  } catch (err) {
    if (!(err instanceof MstingError) || err.code !== 'USAGE') throw err;
    // Say which kind of key the archive needs, and that a passphrase given is not used for it.
    throw new BackupCryptoError('wrong-key', `${needs}${source.passphraseOffered ? ', so the passphrase given is not used' : ''}; ${err.message}`, hint);
  }
}

/** 12-byte nonce: the chunk counter as 11 big-endian bytes, then 0x01 for the last chunk, else 0x00. */
export function nonceFor(counter: number, last: boolean): Buffer {
  if (!Number.isSafeInteger(counter) || counter < 0 || counter >= 2 ** 48) throw new RangeError('chunk counter out of range');
  const nonce = Buffer.alloc(12);
  nonce.writeUIntBE(counter, 5, 6);
  nonce[11] = last ? 1 : 0;
  return nonce;
}

/** Seal one chunk given as consecutive pieces: the ciphertext pieces, then the tag (no joining copy). */
function sealChunk(key: Buffer, aad: Buffer, counter: number, last: boolean, pieces: Buffer[]): Buffer[] {
  const cipher = createCipheriv('aes-256-gcm', key, nonceFor(counter, last));
  cipher.setAAD(aad);
  const out = pieces.map((piece) => cipher.update(piece));
  const final = cipher.final();
  if (final.length > 0) out.push(final);
  out.push(cipher.getAuthTag());
  return out;
}

function openChunk(key: Buffer, aad: Buffer, counter: number, last: boolean, sealed: Buffer): Buffer | undefined {
  const decipher = createDecipheriv('aes-256-gcm', key, nonceFor(counter, last));
  decipher.setAAD(aad);
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_SIZE));
  const plain = decipher.update(sealed.subarray(0, sealed.length - TAG_SIZE));
  try {
    decipher.final();
  } catch {
    return undefined;
  }
  return plain;
}

/** Collects written buffers and hands out exact-size slices without copying more than needed. */
class ByteQueue {
  private parts: Buffer[] = [];
  length = 0;
  push(b: Buffer): void {
    if (b.length === 0) return;
    this.parts.push(b);
    this.length += b.length;
  }
  /** The next `n` bytes as views of the buffers pushed (nothing copied). */
  takePieces(n: number): Buffer[] {
    const pieces: Buffer[] = [];
    let left = n;
    while (left > 0) {
      const head = this.parts[0]!;
      if (head.length <= left) {
        pieces.push(head);
        this.parts.shift();
        left -= head.length;
      } else {
        pieces.push(head.subarray(0, left));
        this.parts[0] = head.subarray(left);
        left = 0;
      }
    }
    this.length -= n;
    return pieces;
  }
  take(n: number): Buffer {
    const head = this.parts[0]!;
    if (head.length === n) {
      this.parts.shift();
      this.length -= n;
      return head;
    }
    if (head.length > n) {
      this.parts[0] = head.subarray(n);
      this.length -= n;
      return head.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let off = 0;
    while (off < n) {
      const part = this.parts[0]!;
      const use = Math.min(part.length, n - off);
      part.copy(out, off, 0, use);
      off += use;
      if (use === part.length) this.parts.shift();
      else this.parts[0] = part.subarray(use);
    }
    this.length -= n;
    return out;
  }
}

/** A Transform that writes the header, then seals 64 KiB chunks; the last chunk carries the final flag. */
export class EncryptStream extends Transform {
  private readonly key: Buffer;
  private readonly aad: Buffer;
  private readonly queue = new ByteQueue();
  private counter = 0;

  constructor(header: Buffer, payloadKey: Buffer) {
    super({ highWaterMark: 4 * ENCRYPTED_CHUNK_SIZE });
    this.key = payloadKey;
    this.aad = header;
    this.push(header);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.queue.push(chunk);
    // Keep at least one byte back: a full chunk is sealed as "last" only when the input ends.
    while (this.queue.length > CHUNK_SIZE) {
      for (const piece of sealChunk(this.key, this.aad, this.counter++, false, this.queue.takePieces(CHUNK_SIZE))) this.push(piece);
    }
    done();
  }

  override _flush(done: TransformCallback): void {
    for (const piece of sealChunk(this.key, this.aad, this.counter++, true, this.queue.takePieces(this.queue.length))) this.push(piece);
    done();
  }
}

/**
 * A Transform that reads the header, asks for the master key, and emits plaintext only after each
 * chunk authenticates. It fails on the first bad chunk, on data after the final chunk, and when the
 * input ends before a final chunk.
 */
export class DecryptStream extends Transform {
  private readonly source: KeySource;
  private readonly queue = new ByteQueue();
  private header: ParsedHeader | undefined;
  private key: Buffer | undefined;
  private counter = 0;
  private finished = false;
  /** Plaintext bytes emitted so far. */
  plainBytes = 0;

  constructor(source: KeySource) {
    super({ highWaterMark: 4 * CHUNK_SIZE });
    this.source = source;
  }

  /** The parsed header, once read. */
  get parsedHeader(): ParsedHeader | undefined {
    return this.header;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.queue.push(chunk);
    this.pump().then(() => done(), done);
  }

  override _flush(done: TransformCallback): void {
    this.pump()
      .then(() => {
        if (!this.key) {
          if (this.queue.length > 0 && this.queue.length < MAGIC.length + 2) checkMagic(this.queue.take(this.queue.length));
          throw new BackupCryptoError('truncated', 'the archive ends inside its header', 'the file is truncated or empty; use another copy');
        }
        if (this.finished) return;
        const rest = this.queue.length;
        if (rest < TAG_SIZE || (rest === TAG_SIZE && this.counter > 0)) throw truncated(this.counter);
        this.emitChunk(this.queue.take(rest), true);
      })
      .then(() => done(), done);
  }

  private async pump(): Promise<void> {
    if (!this.header) {
      if (this.queue.length < MAGIC.length + 2) return;
      const probe = this.queue.take(this.queue.length);
      this.queue.push(probe);
      const len = headerLength(probe);
      if (len === undefined || this.queue.length < len) return;
      this.header = parseHeader(this.queue.take(len));
      this.key = openHeader(this.header, await masterKeyFor(this.header, this.source));
    }
    if (this.finished) {
      if (this.queue.length > 0) throw trailing();
      return;
    }
    // A full sealed chunk with more bytes after it cannot be the last one.
    while (this.queue.length > ENCRYPTED_CHUNK_SIZE) this.emitChunk(this.queue.take(ENCRYPTED_CHUNK_SIZE), false);
  }

  private emitChunk(sealed: Buffer, last: boolean): void {
    const plain = openChunk(this.key!, this.header!.bytes, this.counter, last, sealed);
    if (!plain) {
      // A full-size chunk at the very end may be a non-final chunk of a truncated file.
      if (last && sealed.length === ENCRYPTED_CHUNK_SIZE && openChunk(this.key!, this.header!.bytes, this.counter, false, sealed)) {
        throw truncated(this.counter + 1);
      }
      const at = this.header!.bytes.length + this.counter * ENCRYPTED_CHUNK_SIZE;
      if (last && sealed.length < ENCRYPTED_CHUNK_SIZE) {
        // A short final piece is what a cut-off copy looks like; a flipped bit there reads the same.
        throw new BackupCryptoError('tampered', `the archive ends inside chunk ${this.counter} (byte ${at}), which fails authentication: it is truncated, or damaged there`, 'nothing was written from it; use another copy of the archive');
      }
      throw new BackupCryptoError('tampered', `chunk ${this.counter} (bytes ${at}..) failed authentication: the archive is damaged or was altered`, 'nothing was written from it; use another copy of the archive');
    }
    if (last && plain.length === 0 && this.counter > 0) throw truncated(this.counter);
    this.counter++;
    if (last) this.finished = true;
    this.plainBytes += plain.length;
    if (plain.length > 0) this.push(plain);
  }
}

function truncated(chunks: number): BackupCryptoError {
  return new BackupCryptoError('truncated', `the archive is truncated: it ends after ${chunks} chunk(s) without its final chunk`, 'the copy is incomplete; use another copy of the archive');
}

function trailing(): BackupCryptoError {
  return new BackupCryptoError('trailing-data', 'the archive has data after its final chunk: it was altered or two files were joined', 'use another copy of the archive');
}

/** Peek at a file's first bytes: is it an encrypted msting archive? */
export function isEncryptedPrefix(prefix: Buffer): boolean {
  return prefix.length >= MAGIC.length && prefix.subarray(0, MAGIC.length).equals(MAGIC);
}

/** Exposed for tests and the format document: the SHA-256 of a buffer in hex. */
export function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
