import { isMap, isPair, isScalar, isSeq, parseDocument, type Node } from 'yaml';
import { maskValue, MASK } from '../config/mask.js';
import { MstingError } from '../errors.js';
import type { ModelState } from '../models/state.js';

/**
 * The offline bundle (docs/bundle.md): one uncompressed tar, its entries in this order:
 *
 *   bundle.json                 header: format, msting version, profile (read first, so a wrong
 *                               bundle is refused before gigabytes are read)
 *   config.yml                  the config the bundle was made from, secrets removed
 *   images/part-000000          one `docker save` stream of every image of the profile, written
 *                               into the file by the docker command itself; its tar header
 *                               (which states the size) is written in place once the stream
 *                               ends. Readers also take the stream in several parts, joined in
 *                               order (images/part-000001 ...), as earlier bundles have it.
 *   msting-<version>.tgz        msting's npm package, its runtime dependencies inside (built
 *                               while the engine saves the images)
 *   models/models--ORG--NAME/   the enabled models in the Hugging Face cache layout (blobs,
 *                               snapshots as symlinks, refs), with --with-models
 *   manifest.json               last: the header again, the images and models, and the size and
 *                               SHA-256 of every file entry. A bundle without it is incomplete.
 */

export const BUNDLE_FORMAT = 'msting-bundle';
export const BUNDLE_FORMAT_VERSION = 1;
export const HEADER_PATH = 'bundle.json';
export const MANIFEST_PATH = 'manifest.json';
export const CONFIG_PATH = 'config.yml';
export const IMAGES_DIR = 'images';
export const MODELS_DIR = 'models';
export function imagePartPath(index: number): string {
  return `${IMAGES_DIR}/part-${String(index).padStart(6, '0')}`;
}

export function packagePath(version: string): string {
  return `msting-${version}.tgz`;
}

export interface BundleHeader {
  format: typeof BUNDLE_FORMAT;
  formatVersion: number;
  created: string;
  msting: { version: string };
  profile: string;
}

export interface BundleEntry {
  path: string;
  size: number;
  sha256: string;
}

export interface BundleImage {
  reference: string;
  /** The engine's image id (sha256:...). */
  id: string;
  /** Uncompressed size, as the engine reports it. */
  size: number;
  services: string[];
}

export interface BundleManifest extends BundleHeader {
  images: BundleImage[];
  /** msting's record of each model (models/.msting/<name>.json), verification times cleared. */
  models: ModelState[];
  /** The npm package entry (msting-<version>.tgz). */
  package: string;
  entries: BundleEntry[];
}

export function bundleHeader(version: string, profile: string, created: Date): BundleHeader {
  return { format: BUNDLE_FORMAT, formatVersion: BUNDLE_FORMAT_VERSION, created: created.toISOString(), msting: { version }, profile };
}

function invalid(message: string): MstingError {
  return new MstingError('BUNDLE_INVALID', message, { hint: 'this file is not a complete msting bundle; copy it again, or create it again with `msting bundle create`' });
}

function parseJson(data: Buffer, what: string): Record<string, unknown> {
  try {
    const value = JSON.parse(data.toString('utf8')) as unknown;
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // said below
  }
  throw invalid(`the bundle's ${what} is not valid JSON`);
}

function checkHeaderFields(h: Record<string, unknown>, what: string): BundleHeader {
  if (h.format !== BUNDLE_FORMAT || typeof h.formatVersion !== 'number') throw invalid(`${what} is not an msting bundle ${what}`);
  if (h.formatVersion > BUNDLE_FORMAT_VERSION) {
    throw new MstingError('BUNDLE_MISMATCH', `the bundle uses format version ${h.formatVersion}; this msting reads version ${BUNDLE_FORMAT_VERSION}`, {
      hint: 'install the msting the bundle carries first (docs/bundle.md, step 2)',
    });
  }
  const msting = h.msting as { version?: unknown } | undefined;
  if (typeof msting?.version !== 'string' || typeof h.profile !== 'string' || typeof h.created !== 'string') throw invalid(`${what} lacks the msting version, profile or creation time`);
  return h as unknown as BundleHeader;
}

export function parseHeader(data: Buffer): BundleHeader {
  return checkHeaderFields(parseJson(data, HEADER_PATH), HEADER_PATH);
}

export function parseManifest(data: Buffer): BundleManifest {
  const m = checkHeaderFields(parseJson(data, MANIFEST_PATH), MANIFEST_PATH) as unknown as Record<string, unknown>;
  if (!Array.isArray(m.entries) || !Array.isArray(m.images) || !Array.isArray(m.models) || typeof m.package !== 'string') {
    throw invalid(`${MANIFEST_PATH} lacks its entries, images, models or package`);
  }
  return m as unknown as BundleManifest;
}

/** What the bundle is used for: this msting's version and the profile being installed or updated. */
export interface BundleTarget {
  version: string;
  profile: string;
}

/** Refuses a bundle made by another msting version or for another profile (BUNDLE_MISMATCH, exit 4). */
export function checkBundleTarget(header: BundleHeader, target: BundleTarget, file: string): void {
  if (header.msting.version !== target.version) {
    throw new MstingError('BUNDLE_MISMATCH', `${file} was made by msting ${header.msting.version}; this is msting ${target.version}`, {
      hint: `install the msting it carries first: \`tar -xf ${file} ${packagePath(header.msting.version)} && npm install -g ./${packagePath(header.msting.version)}\`, then run the command again (nothing was changed)`,
    });
  }
  if (header.profile !== target.profile) {
    throw new MstingError('BUNDLE_MISMATCH', `${file} holds the images of profile ${header.profile}, not ${target.profile}`, {
      hint: `use --profile ${header.profile}, or create a bundle for ${target.profile} (\`msting bundle create --profile ${target.profile}\`) where there is network; nothing was changed`,
    });
  }
}

/** A tar name without a leading "./" or "/", and without a trailing "/". */
export function entryName(name: string): string {
  return name.replace(/^(\.\/|\/)+/, '').replace(/\/+$/, '');
}

/**
 * config.yml as the bundle carries it: every secret removed (a key that names a secret, a value
 * Vault filled), passwords cut out of URLs. Vault references stay: they are pointers. Comments and
 * order are kept. The install that uses it generates its own secrets, as any first install does.
 */
export function configWithoutSecrets(text: string): string {
  if (text.trim() === '') return text;
  const doc = parseDocument(text, { keepSourceTokens: false });
  if (doc.errors.length > 0) throw new MstingError('CONFIG_INVALID', `config.yml cannot be parsed: ${doc.errors[0]?.message ?? ''}`, { hint: 'run `msting config validate`' });
  const walk = (node: Node | null | undefined): void => {
    if (isMap(node)) {
      node.items = node.items.filter((pair) => {
        if (!isPair(pair)) return true;
        const key = isScalar(pair.key) ? String(pair.key.value) : undefined;
        const value = pair.value as Node | null;
        if (isScalar(value) && typeof value.value === 'string') {
          const masked = maskValue(key, value.value);
          if (masked === MASK) return false;
          if (masked !== value.value) value.value = masked.replace(`:${MASK}@`, '@');
          return true;
        }
        walk(value);
        return true;
      });
    } else if (isSeq(node)) {
      for (const item of node.items) walk(item as Node);
    }
  };
  walk(doc.contents as Node);
  return doc.toString();
}
