import { once } from 'node:events';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { MstingError } from '../errors.js';

/**
 * The plain archive: a ustar/pax tar stream. Layout, in this order (docs/backup.md):
 *
 *   volumes/<key>/...           every file of each volume, ownership and modes kept
 *   db/globals.sql              pg_dumpall --globals-only
 *   db/<database>.dump          pg_dump -Fc, one per database
 *   config/config.yml           the user's config
 *   config/docker-compose.override.yml   when present
 *   keys/...                    Vault init material, only with --include-vault-keys
 *   manifest.json               last: versions, and size and SHA-256 of every file entry
 */

export const MANIFEST_PATH = 'manifest.json';
export const MANIFEST_FORMAT = 'msting-backup';
export const MANIFEST_VERSION = 1;

export interface ManifestEntry {
  path: string;
  size: number;
  sha256: string;
}

export interface ManifestVolume {
  key: string;
  name: string;
  services: string[];
  /** How it was copied: `paused` (its services frozen for the copy), `saved` (Redis SAVE, then paused), `live`. */
  quiesce: 'paused' | 'saved' | 'live';
  files: number;
  bytes: number;
  labels: Record<string, string>;
  driver: string;
  options: Record<string, string>;
}

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  formatVersion: number;
  created: string;
  msting: { version: string };
  stack: { project: string; imagesVersion: string; imagesRegistry: string; profile: string };
  host: { arch: string; platform: string };
  postgres: { major: number; version: string; superuser: string };
  images: Array<{ service: string; image: string; id: string; digests: string[] }>;
  databases: Array<{ name: string; path: string }>;
  /** Databases msting expects that did not exist at backup time. */
  missingDatabases: string[];
  volumes: ManifestVolume[];
  config: string[];
  includesVaultKeys: boolean;
  entries: ManifestEntry[];
}

/** Writes tar entries with backpressure, hashing every file entry for the manifest. */
export class ArchiveWriter {
  readonly pack = tar.pack();
  readonly entries: ManifestEntry[] = [];
  private readonly mtime = new Date();
  private readonly onBytes: (n: number) => void;

  constructor(onBytes: (n: number) => void = () => undefined) {
    this.onBytes = onBytes;
  }

  /** A file of known size streamed from `source`; the size must match exactly. */
  async addStream(path: string, size: number, source: AsyncIterable<Buffer> | Iterable<Buffer> | Readable | tar.Extract | AsyncIterable<unknown>, header: Partial<tar.Header> = {}): Promise<ManifestEntry> {
    const hash = createHash('sha256');
    let written = 0;
    const entryDone = new Promise<void>((resolve, reject) => {
      const sink = this.pack.entry({ name: path, size, mode: 0o600, mtime: this.mtime, ...header, type: 'file' }, (err) => (err ? reject(err) : resolve()));
      // A destroyed entry emits its error; it fails this entry (and the archive), never the process.
      (sink as unknown as NodeJS.EventEmitter).on('error', reject);
      void (async () => {
        try {
          for await (const chunk of source as AsyncIterable<Buffer>) {
            hash.update(chunk);
            written += chunk.length;
            if (written > size) throw new MstingError('FAILURE', `${path} grew while it was being archived`, { hint: 'run the backup again' });
            this.onBytes(chunk.length);
            if (!sink.write(chunk)) await once(sink as unknown as NodeJS.EventEmitter, 'drain');
          }
          if (written !== size) throw new MstingError('FAILURE', `${path} changed size while it was being archived (${written} of ${size} bytes)`, { hint: 'run the backup again' });
          endSink(sink);
        } catch (err) {
          sink.destroy(err as Error);
          reject(err);
        }
      })();
    });
    await entryDone;
    const entry = { path, size, sha256: hash.digest('hex') };
    this.entries.push(entry);
    return entry;
  }

  async addBuffer(path: string, data: Buffer, header: Partial<tar.Header> = {}): Promise<ManifestEntry> {
    return this.addStream(path, data.length, [data], header);
  }

  /**
   * Copy a volume's tar stream (entries relative to the volume root) into `prefix/`, keeping
   * ownership, modes, times and links. Returns the count and bytes of regular files.
   */
  async addTarStream(prefix: string, source: Readable): Promise<{ files: number; bytes: number }> {
    const extract = tar.extract();
    let files = 0;
    let bytes = 0;
    // A reader that breaks (an abort, a helper that died) fails the extractor too, so the loop below
    // ends with the reader's error instead of waiting for entries that will never come.
    const fed = new Promise<void>((resolve, reject) => {
      source.on('error', (err) => {
        extract.destroy(err);
        reject(err);
      });
      extract.on('error', reject);
      source.pipe(extract as unknown as NodeJS.WritableStream);
      extract.on('finish', resolve);
    });
    // The loop reports a failure first; `fed` is awaited (and its failure reported) after it.
    fed.catch(() => undefined);
    for await (const entry of extract) {
      const h = entry.header;
      const rel = relativeName(h.name);
      const name = rel === '' ? `${prefix}/` : `${prefix}/${rel}`;
      const header: tar.Header = { ...h, name, pax: null };
      if (h.type === 'link') header.linkname = `${prefix}/${relativeName(h.linkname)}`;
      if (h.type === 'file' || h.type === 'contiguous-file') {
        await this.addStream(name, h.size, entry, { uid: h.uid, gid: h.gid, mode: h.mode, mtime: h.mtime, uname: h.uname, gname: h.gname });
        files += 1;
        bytes += h.size;
      } else {
        if (h.type === 'directory' && !header.name.endsWith('/')) header.name += '/';
        header.size = 0;
        await new Promise<void>((resolve, reject) => endSink(this.pack.entry(header, (err) => (err ? reject(err) : resolve()))));
        entry.resume();
      }
    }
    await fed;
    return { files, bytes };
  }

  /** Append the manifest (last entry) and end the tar stream. */
  async finish(manifest: Manifest): Promise<void> {
    await this.addBuffer(MANIFEST_PATH, Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`), { mode: 0o644 });
    this.entries.pop();
    this.pack.finalize();
  }
}

function endSink(sink: unknown): void {
  (sink as { end(): void }).end();
}

/** A tar name without a leading "./" or "/", and without a trailing "/". */
export function relativeName(name: string): string {
  return name.replace(/^(\.\/|\/)+/, '').replace(/^\.$/, '').replace(/\/+$/, '');
}

/** Reject names that would escape a target directory. */
export function isSafeName(name: string): boolean {
  const rel = relativeName(name);
  return !name.startsWith('/') && !rel.split('/').some((part) => part === '..');
}

export function parseManifest(data: Buffer): Manifest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data.toString('utf8'));
  } catch {
    throw new MstingError('BACKUP_INVALID', 'the archive manifest is not valid JSON', { hint: 'use another copy of the archive' });
  }
  const m = parsed as Partial<Manifest>;
  if (m.format !== MANIFEST_FORMAT || typeof m.formatVersion !== 'number' || !Array.isArray(m.entries)) {
    throw new MstingError('BACKUP_INVALID', 'manifest.json is not an msting backup manifest', { hint: 'this file was not written by msting backup' });
  }
  if (m.formatVersion > MANIFEST_VERSION) {
    throw new MstingError('BACKUP_INVALID', `the archive uses manifest version ${m.formatVersion}; this msting reads version ${MANIFEST_VERSION}`, {
      hint: 'use the msting release that wrote the archive, or a newer one',
    });
  }
  return m as Manifest;
}

/**
 * The tar header of a file entry, as tar-stream encodes it (a size beyond the 8 GiB of ustar's
 * octal field in GNU base-256, which tar-stream and GNU and BSD tar read). For an entry whose size
 * is known only once its data is written: reserve 512 bytes, write the data, then this.
 */
export async function fileHeader(header: { name: string; size: number; mode: number; mtime: Date }): Promise<Buffer> {
  const pack = tar.pack();
  const first = once(pack, 'data') as Promise<[Buffer]>;
  const sink = pack.entry({ ...header, type: 'file' });
  const [block] = await first;
  // The entry is never written: once its header is out, the pack is thrown away.
  (sink as unknown as NodeJS.EventEmitter).on('error', () => undefined);
  pack.on('error', () => undefined);
  sink.destroy();
  pack.destroy();
  if (block.length !== 512) throw new Error(`${header.name}: expected a 512-byte tar header, got ${block.length} bytes`);
  return block;
}

/**
 * Small entries as the bytes of a tar stream that goes on (no end-of-archive blocks), and their
 * manifest entries: the start of an archive whose next entry is written by other means.
 */
export async function leadingEntries(add: (writer: ArchiveWriter) => Promise<void>, onBytes?: (n: number) => void): Promise<{ bytes: Buffer; entries: ManifestEntry[] }> {
  const writer = new ArchiveWriter(onBytes);
  const chunks: Buffer[] = [];
  const collected = (async () => {
    for await (const chunk of writer.pack) chunks.push(chunk as Buffer);
  })();
  await add(writer);
  writer.pack.finalize();
  await collected;
  const all = Buffer.concat(chunks);
  // finalize() ends the stream with two zero blocks; the archive goes on after these entries.
  return { bytes: all.subarray(0, all.length - 1024), entries: writer.entries };
}
