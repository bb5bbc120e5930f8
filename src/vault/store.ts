import { chmod, mkdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { MstingError } from '../errors.js';
import { writeFileAtomic } from '../files/atomic-write.js';

/**
 * Vault material msting keeps on the host, under `<home>/secrets/` (mode 0700, files 0600, written
 * atomically): the unseal shares (unless the operator took them away), the root token until it is
 * revoked, msting's admin token, and one token per service that talks to Vault.
 */

export const VAULT_FILES = {
  unsealKeys: 'vault-unseal-keys.json',
  rootToken: 'vault-root-token',
  adminToken: 'vault-admin-token',
} as const;

/** File name of a service's Vault token under secrets/ (mounted into that service only). */
export function serviceTokenFile(service: string): string {
  return `vault-token-${service}`;
}

export interface StoredShares {
  version: 1;
  created_at: string;
  shares: number;
  threshold: number;
  keys_base64: string[];
}

const SECRET_FILE_MODE = 0o600;
const SECRETS_DIR_MODE = 0o700;

export async function ensureSecretsDir(secretsDir: string): Promise<void> {
  await mkdir(secretsDir, { recursive: true, mode: SECRETS_DIR_MODE });
  // mkdir leaves an existing directory's mode alone and the umask narrows a new one: set it exactly.
  await chmod(secretsDir, SECRETS_DIR_MODE);
}

export async function writeSecretFile(secretsDir: string, name: string, content: string): Promise<string> {
  await ensureSecretsDir(secretsDir);
  const path = join(secretsDir, name);
  await writeFileAtomic(path, content.endsWith('\n') ? content : `${content}\n`, { mode: SECRET_FILE_MODE, dirMode: SECRETS_DIR_MODE });
  return path;
}

/** Content of a file under secrets/ (trimmed), or undefined when it does not exist. */
export async function readSecretFile(secretsDir: string, name: string): Promise<string | undefined> {
  try {
    const text = (await readFile(join(secretsDir, name), 'utf8')).trim();
    return text === '' ? undefined : text;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw ioError(join(secretsDir, name), err);
  }
}

export async function removeSecretFile(secretsDir: string, name: string): Promise<void> {
  await rm(join(secretsDir, name), { force: true });
}

export async function fileExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw ioError(path, err);
  }
}

export async function readStoredShares(secretsDir: string): Promise<StoredShares | undefined> {
  const text = await readSecretFile(secretsDir, VAULT_FILES.unsealKeys);
  if (text === undefined) return undefined;
  try {
    const parsed = JSON.parse(text) as Partial<StoredShares>;
    if (!Array.isArray(parsed.keys_base64) || parsed.keys_base64.length === 0) throw new Error('no keys_base64');
    return {
      version: 1,
      created_at: String(parsed.created_at ?? ''),
      shares: Number(parsed.shares ?? parsed.keys_base64.length),
      threshold: Number(parsed.threshold ?? parsed.keys_base64.length),
      keys_base64: parsed.keys_base64.map(String),
    };
  } catch {
    throw new MstingError('VAULT', `${join(secretsDir, VAULT_FILES.unsealKeys)} is not a valid unseal share file`, {
      hint: 'restore it from your backup of secrets/, or unseal with `msting unseal --shares-file FILE`',
    });
  }
}

export function sharesDocument(keysBase64: string[], threshold: number): StoredShares {
  return { version: 1, created_at: new Date().toISOString(), shares: keysBase64.length, threshold, keys_base64: keysBase64 };
}

export async function writeStoredShares(secretsDir: string, doc: StoredShares): Promise<string> {
  return writeSecretFile(secretsDir, VAULT_FILES.unsealKeys, `${JSON.stringify(doc, null, 2)}\n`);
}

/**
 * The file an operator takes away: one share a line, with a comment header that `msting unseal
 * --shares-file` skips. Refuses to replace an existing file.
 */
export async function writeSharesFile(path: string, doc: StoredShares): Promise<void> {
  if (await fileExists(path)) {
    throw new MstingError('VAULT', `${path} already exists; msting does not overwrite a shares file`, { hint: 'name a new file with --shares-file' });
  }
  const text = [
    `# Vault unseal shares (${doc.threshold} of ${doc.shares} needed), created ${doc.created_at}.`,
    '# Keep them apart, offline. Unseal with: msting unseal --shares-file FILE',
    ...doc.keys_base64,
    '',
  ].join('\n');
  await writeFileAtomic(path, text, { mode: SECRET_FILE_MODE, dirMode: SECRETS_DIR_MODE });
}

/**
 * Shares from text: one a line (hex or base64), `#` comments and blank lines skipped; a JSON
 * document with `keys_base64`, `keys` or `unseal_keys_b64` (Vault's and msting's files) works too.
 */
export function parseShares(text: string): string[] {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    try {
      const doc = JSON.parse(trimmed) as Record<string, unknown>;
      const list = doc.keys_base64 ?? doc.unseal_keys_b64 ?? doc.keys;
      if (Array.isArray(list)) return list.map(String).filter((s) => s !== '');
    } catch {
      // Not JSON after all: read it as lines.
    }
  }
  return trimmed
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

/** A share as Vault accepts it: hex or base64 of the share bytes. */
export function looksLikeShare(share: string): boolean {
  return (/^[0-9a-fA-F]+$/.test(share) && share.length % 2 === 0) || (/^[A-Za-z0-9+/]+={0,2}$/.test(share) && share.length % 4 === 0);
}

function ioError(path: string, err: unknown): MstingError {
  const code = (err as NodeJS.ErrnoException).code;
  return new MstingError('IO', `cannot read ${path}${code ? ` (${code})` : ''}`, {
    hint: code === 'EACCES' ? 'run msting as the user that installed the stack (or with sudo)' : 'check the install directory',
    cause: err,
  });
}
