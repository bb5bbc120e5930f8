import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { MstingError } from '../errors.js';
import { Meter } from '../backup/spool.js';
import { CONFIG_PATH, HEADER_PATH, MANIFEST_PATH, entryName, parseHeader, parseManifest, type BundleHeader, type BundleManifest } from './format.js';

/**
 * Reading a bundle: its header alone (the first entry, a few hundred bytes in), or every entry
 * once, each hashed, the header first and the manifest last checked against what was read.
 */

function cannotOpen(path: string, err: unknown): MstingError {
  const code = (err as NodeJS.ErrnoException).code;
  return new MstingError(code === 'ENOENT' ? 'USAGE' : 'IO', `cannot open ${path}: ${code === 'ENOENT' ? 'no such file' : (code ?? (err as Error).message)}`, {
    hint: 'name the bundle file `msting bundle create` wrote',
    cause: err,
  });
}

function notABundle(path: string, why: string): MstingError {
  return new MstingError('BUNDLE_INVALID', `${path} is not an msting bundle: ${why}`, { hint: 'name the .tar file `msting bundle create` wrote; nothing was changed' });
}

/** The header entry, read from the start of the file without reading the rest. */
export async function readBundleHeader(path: string): Promise<BundleHeader> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    throw cannotOpen(path, err);
  }
  try {
    const block = Buffer.alloc(512);
    const { bytesRead } = await handle.read(block, 0, 512, 0);
    if (bytesRead === 0) throw notABundle(path, 'the file is empty');
    if (bytesRead < 512 || block.subarray(257, 262).toString('latin1') !== 'ustar') throw notABundle(path, 'it is not a tar file');
    // ustar: the name in bytes 0-99, the size in octal in bytes 124-135 (msting writes no pax header first).
    const name = block.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '');
    const size = Number.parseInt(block.subarray(124, 136).toString('latin1').replace(/\0.*$/s, '').trim(), 8);
    if (entryName(name) !== HEADER_PATH || !Number.isFinite(size) || size > 64 * 1024) throw notABundle(path, `its first entry is not ${HEADER_PATH}`);
    const body = Buffer.alloc(size);
    const read = await handle.read(body, 0, size, 512);
    if (read.bytesRead < size) throw notABundle(path, 'it ends inside its header (truncated)');
    return parseHeader(body);
  } finally {
    await handle.close();
  }
}

export interface BundleEntryStream {
  path: string;
  header: tar.Header;
  /** File data; the visitor reads it, or leaves it and the walker drains it. */
  stream: Readable;
}

export interface BundleWalk {
  header: BundleHeader | undefined;
  manifest: BundleManifest | undefined;
  /** Size and SHA-256 of every file entry as read. */
  seen: Map<string, { size: number; sha256: string }>;
  problems: string[];
}

/**
 * Read a bundle end to end, handing each file entry to `visit` and hashing it. A tar that ends
 * early or is garbled rejects (BUNDLE_INVALID); what is wrong with the entries is collected.
 */
export async function walkBundle(
  path: string,
  visit: (entry: BundleEntryStream) => Promise<void>,
  options: { signal?: AbortSignal; onBytes?: (n: number) => void } = {},
): Promise<BundleWalk> {
  await open(path, 'r').then(
    (h) => h.close(),
    (err: unknown) => {
      throw cannotOpen(path, err);
    },
  );
  const file = createReadStream(path, { highWaterMark: 1024 * 1024 });
  if (options.onBytes) {
    const onBytes = options.onBytes;
    file.on('data', (b) => onBytes((b as Buffer).length));
  }
  const extract = tar.extract();
  const onAbort = (): void => {
    file.destroy(new MstingError('INTERRUPTED', 'interrupted', { hint: 'nothing was changed; run the same command again' }));
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const fed = new Promise<void>((resolve, reject) => {
    file.on('error', (err) => {
      extract.destroy(err);
      reject(err);
    });
    extract.on('error', reject);
    extract.on('finish', resolve);
    file.pipe(extract as unknown as NodeJS.WritableStream);
  });
  fed.catch(() => undefined);
  const seen = new Map<string, { size: number; sha256: string }>();
  const problems: string[] = [];
  let header: BundleHeader | undefined;
  let manifest: BundleManifest | undefined;
  let first = true;
  try {
    for await (const entry of extract) {
      const h = entry.header;
      const name = entryName(h.name);
      const isFirst = first;
      first = false;
      if (name.split('/').includes('..') || h.name.startsWith('/')) {
        problems.push(`unsafe entry name ${JSON.stringify(h.name)}`);
        entry.resume();
        continue;
      }
      if (manifest) problems.push(`entry ${name} comes after the manifest`);
      if (h.type !== 'file' && h.type !== 'contiguous-file') {
        entry.resume();
        continue;
      }
      if (name === HEADER_PATH || name === MANIFEST_PATH) {
        const parts: Buffer[] = [];
        for await (const chunk of entry) parts.push(chunk as Buffer);
        const body = Buffer.concat(parts);
        try {
          if (name === MANIFEST_PATH) manifest = parseManifest(body);
          else if (!isFirst) problems.push(`${HEADER_PATH} is not the first entry`);
          else {
            header = parseHeader(body);
            seen.set(name, { size: body.length, sha256: new Meter().hash.update(body).digest('hex') });
          }
        } catch (err) {
          problems.push((err as Error).message);
        }
        continue;
      }
      const meter = new Meter();
      const metered = (entry as unknown as Readable).pipe(meter);
      await visit({ path: name, header: h, stream: metered }).finally(() => metered.resume());
      if (!metered.readableEnded) {
        await new Promise<void>((resolve, reject) => {
          metered.on('end', resolve);
          metered.on('error', reject);
        });
      }
      seen.set(name, { size: meter.bytes, sha256: meter.hash.digest('hex') });
    }
    await fed;
  } catch (err) {
    file.destroy();
    if (err instanceof MstingError) throw err;
    const message = err instanceof Error ? err.message : String(err);
    const what = /unexpected end/i.test(message) ? 'its tar data ends early: the file is truncated' : `its tar data is malformed (${message.slice(0, 120)})`;
    throw new MstingError('BUNDLE_INVALID', `${path} is damaged: ${what}`, { hint: 'copy the bundle again (compare its size with the original), or create it again; nothing was changed' });
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
  if (!header && !problems.some((p) => p.includes(HEADER_PATH))) problems.push(`${HEADER_PATH} is missing: this is not an msting bundle`);
  if (!manifest) problems.push(`${MANIFEST_PATH} is missing: the bundle is incomplete (cut short, or its creation was interrupted)`);
  if (manifest) problems.push(...compareEntries(manifest, header, seen));
  return { header, manifest, seen, problems };
}

/** What differs between the manifest and the entries read (and between the header and the manifest). */
export function compareEntries(manifest: BundleManifest, header: BundleHeader | undefined, seen: ReadonlyMap<string, { size: number; sha256: string }>): string[] {
  const problems: string[] = [];
  if (header && (header.profile !== manifest.profile || header.msting.version !== manifest.msting.version || header.created !== manifest.created)) {
    problems.push(`${HEADER_PATH} and ${MANIFEST_PATH} disagree on the profile, version or creation time`);
  }
  const listed = new Set<string>();
  for (const e of manifest.entries) {
    listed.add(e.path);
    const got = seen.get(e.path);
    if (!got) problems.push(`${e.path} is listed in the manifest but missing from the bundle`);
    else if (got.size !== e.size) problems.push(`${e.path} is ${got.size} bytes, the manifest says ${e.size}`);
    else if (got.sha256 !== e.sha256) problems.push(`${e.path} does not match its SHA-256 in the manifest`);
  }
  for (const p of seen.keys()) if (!listed.has(p)) problems.push(`${p} is in the bundle but not in the manifest`);
  return problems;
}

export interface BundleReport {
  ok: boolean;
  header: BundleHeader | undefined;
  manifest: BundleManifest | undefined;
  problems: string[];
  files: number;
  bytes: number;
  /** The bundle's config.yml (secrets removed when it was made); null when it has none. */
  config: string | null;
}

/** Re-hash every entry against the manifest. Never throws for a bad bundle: the report says what is wrong. */
export async function verifyBundle(path: string, options: { signal?: AbortSignal; onBytes?: (n: number) => void } = {}): Promise<BundleReport> {
  try {
    let config: string | null = null;
    const walked = await walkBundle(
      path,
      async (entry) => {
        if (entry.path !== CONFIG_PATH || entry.header.size > 1024 * 1024) return;
        const parts: Buffer[] = [];
        for await (const chunk of entry.stream) parts.push(chunk as Buffer);
        config = Buffer.concat(parts).toString('utf8');
      },
      options,
    );
    const bytes = [...walked.seen.values()].reduce((a, e) => a + e.size, 0);
    return { ok: walked.problems.length === 0, header: walked.header, manifest: walked.manifest, problems: walked.problems, files: walked.seen.size, bytes, config };
  } catch (err) {
    if (err instanceof MstingError && err.code === 'BUNDLE_INVALID') return { ok: false, header: undefined, manifest: undefined, problems: [err.message], files: 0, bytes: 0, config: null };
    throw err;
  }
}

/** The error for a bundle that did not verify: one message, the problems as details. */
export function invalidBundle(path: string, problems: readonly string[]): MstingError {
  return new MstingError('BUNDLE_INVALID', `${path} did not verify: ${problems[0] ?? 'unknown problem'}`, {
    details: problems.slice(1, 20),
    hint: 'copy the bundle again from its source (compare `sha256sum`), or create it again; nothing was changed',
  });
}
