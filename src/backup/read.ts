import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { MstingError } from '../errors.js';
import { MANIFEST_PATH, isSafeName, parseManifest, relativeName, type Manifest } from './archive.js';
import { BackupCryptoError, DecryptStream, MAGIC, type KeySource } from './crypto-format.js';
import { Meter } from './spool.js';

export type ArchiveKind = 'encrypted' | 'plain';

/** Tell an encrypted archive from a plain tar by its first bytes. */
export async function archiveKind(path: string): Promise<ArchiveKind> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new MstingError(code === 'ENOENT' ? 'USAGE' : 'IO', `cannot open ${path}: ${code === 'ENOENT' ? 'no such file' : (code ?? (err as Error).message)}`, {
      hint: 'msting backup list shows the archives in the backups directory',
      cause: err,
    });
  }
  try {
    const head = Buffer.alloc(512);
    const { bytesRead } = await handle.read(head, 0, 512, 0);
    if (bytesRead >= MAGIC.length && head.subarray(0, MAGIC.length).equals(MAGIC)) return 'encrypted';
    if (bytesRead === 512 && head.subarray(257, 262).toString('latin1') === 'ustar') return 'plain';
    if (bytesRead === 0) throw new MstingError('BACKUP_INVALID', `${path} is empty`, { hint: 'the copy is incomplete; use another copy of the archive' });
    throw new MstingError('BACKUP_INVALID', `${path} is not an msting backup (neither an encrypted archive nor a tar file)`, { hint: 'check the file name' });
  } finally {
    await handle.close();
  }
}

/** The plaintext tar stream of an archive; encrypted archives are authenticated chunk by chunk. */
export async function openPlain(path: string, keys: KeySource, onBytes?: (n: number) => void): Promise<{ kind: ArchiveKind; stream: Readable }> {
  const kind = await archiveKind(path);
  const file = createReadStream(path, { highWaterMark: 1024 * 1024 });
  if (onBytes) file.on('data', (b) => onBytes((b as Buffer).length));
  if (kind === 'plain') return { kind, stream: file };
  const plain = new DecryptStream(keys);
  file.on('error', (err) => plain.destroy(err));
  return { kind, stream: file.pipe(plain) };
}

export interface ArchiveEntry {
  /** Normalized name (no leading "./"). */
  path: string;
  header: tar.Header;
  /** File data; the visitor reads it (or leaves it, and the walker drains it). */
  stream: Readable;
}

export interface WalkResult {
  kind: ArchiveKind;
  manifest: Manifest | undefined;
  /** Size and SHA-256 of every file entry as read. */
  seen: Map<string, { size: number; sha256: string }>;
  /** Every problem found with the archive's structure and hashes. */
  problems: string[];
}

/**
 * Read an archive once, end to end: hand each entry to `visit` and hash every file entry. A crypto
 * failure (wrong key, damage, truncation) rejects; structural problems are collected.
 */
export async function walkArchive(
  path: string,
  keys: KeySource,
  visit: (entry: ArchiveEntry) => Promise<void>,
  options: { signal?: AbortSignal; onBytes?: (n: number) => void } = {},
): Promise<WalkResult> {
  const { kind, stream } = await openPlain(path, keys, options.onBytes);
  const extract = tar.extract();
  const seen = new Map<string, { size: number; sha256: string }>();
  const problems: string[] = [];
  let manifest: Manifest | undefined;
  let afterManifest = false;
  const onAbort = (): void => {
    stream.destroy(new MstingError('INTERRUPTED', 'interrupted'));
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const fed = new Promise<void>((resolve, reject) => {
    stream.on('error', (err) => {
      extract.destroy(err);
      reject(err);
    });
    extract.on('error', reject);
    extract.on('finish', resolve);
    stream.pipe(extract as unknown as NodeJS.WritableStream);
  });
  fed.catch(() => undefined);
  try {
    for await (const entry of extract) {
      const h = entry.header;
      const name = relativeName(h.name) + (h.type === 'directory' && relativeName(h.name) !== '' ? '/' : '');
      if (!isSafeName(h.name) || (h.type === 'link' && !isSafeName(h.linkname ?? ''))) {
        problems.push(`unsafe entry name ${JSON.stringify(h.name)}`);
        entry.resume();
        continue;
      }
      if (afterManifest) problems.push(`entry ${name} comes after the manifest`);
      if (name === MANIFEST_PATH) {
        const parts: Buffer[] = [];
        for await (const chunk of entry) parts.push(chunk as Buffer);
        try {
          manifest = parseManifest(Buffer.concat(parts));
        } catch (err) {
          problems.push((err as Error).message);
        }
        afterManifest = true;
        continue;
      }
      if (h.type !== 'file' && h.type !== 'contiguous-file') {
        await visit({ path: name, header: h, stream: entry as unknown as Readable });
        entry.resume();
        continue;
      }
      const meter = new Meter();
      const metered = (entry as unknown as Readable).pipe(meter);
      const visited = visit({ path: name, header: h, stream: metered });
      // Whatever the visitor leaves unread is drained, so the next entry can start.
      await visited.finally(() => {
        metered.resume();
      });
      if (!metered.readableEnded) await new Promise<void>((resolve, reject) => {
        metered.on('end', resolve);
        metered.on('error', reject);
      });
      seen.set(name, { size: meter.bytes, sha256: meter.hash.digest('hex') });
    }
    await fed;
  } catch (err) {
    stream.destroy();
    throw err instanceof MstingError ? err : damaged(err);
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
  if (!manifest && problems.length === 0) problems.push('the archive has no manifest.json: it is incomplete or not an msting backup');
  if (manifest) problems.push(...compareWithManifest(manifest, seen));
  return { kind, manifest, seen, problems };
}

/** The tar reader's own error (a plain archive cut short or garbled), said as a damaged archive. */
function damaged(err: unknown): BackupCryptoError {
  const message = err instanceof Error ? err.message : String(err);
  const what = /unexpected end/i.test(message) ? 'its tar data ends early: the file is truncated' : `its tar data is malformed (${message.slice(0, 120)})`;
  return new BackupCryptoError('truncated', `the archive is damaged: ${what}`, 'the copy is incomplete or damaged; use another copy of the archive');
}

export function compareWithManifest(manifest: Manifest, seen: Map<string, { size: number; sha256: string }>): string[] {
  const problems: string[] = [];
  const listed = new Set<string>();
  for (const e of manifest.entries) {
    listed.add(e.path);
    const got = seen.get(e.path);
    if (!got) problems.push(`${e.path} is listed in the manifest but missing from the archive`);
    else if (got.size !== e.size) problems.push(`${e.path} is ${got.size} bytes, the manifest says ${e.size}`);
    else if (got.sha256 !== e.sha256) problems.push(`${e.path} does not match its SHA-256 in the manifest`);
  }
  for (const path of seen.keys()) if (!listed.has(path)) problems.push(`${path} is in the archive but not in the manifest`);
  return problems;
}
