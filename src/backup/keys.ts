import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MstingError } from '../errors.js';
import { writeFileAtomic } from '../files/atomic-write.js';
import { keyIdOf } from './crypto-format.js';

/** The backup key file: 32 random bytes, stored as 64 hex characters and a newline, mode 0600. */
export const BACKUP_KEY_FILE = 'backup.key';

export function defaultKeyFilePath(secretsDir: string): string {
  return join(secretsDir, BACKUP_KEY_FILE);
}

/** Read a key file: 64 hex characters (surrounding whitespace ignored) or exactly 32 raw bytes. */
export async function readKeyFile(path: string): Promise<Buffer> {
  let raw: Buffer;
  try {
    raw = await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new MstingError('USAGE', `backup key file ${path} does not exist`, { hint: 'pass the key that was used for the archive with --key-file FILE' });
    throw new MstingError('IO', `cannot read backup key file ${path}: ${code ?? (err as Error).message}`, { hint: 'run as the user that owns the install directory, or with sudo', cause: err });
  }
  const text = raw.toString('latin1').trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  if (raw.length === 32) return raw;
  throw new MstingError('USAGE', `${path} is not a backup key file (expected 64 hex characters)`, { hint: 'a backup key file holds 32 random bytes written as hex' });
}

/** Read the key file, creating it (0600, in a 0700 directory) when it does not exist yet. */
export async function ensureKeyFile(path: string): Promise<{ key: Buffer; created: boolean }> {
  try {
    return { key: await readKeyFile(path), created: false };
  } catch (err) {
    if (!(err instanceof MstingError) || err.code !== 'USAGE' || !/does not exist/.test(err.message)) throw err;
  }
  const key = randomBytes(32);
  await writeFileAtomic(path, `${key.toString('hex')}\n`, { mode: 0o600, dirMode: 0o700 });
  return { key, created: true };
}

export function keyIdHex(key: Buffer): string {
  return keyIdOf(key).toString('hex');
}

/** Where a passphrase may come from, in the order they are tried. */
export interface PassphraseSources {
  file?: string | undefined;
  env: NodeJS.ProcessEnv;
  /** Present only when standard input is a terminal. */
  prompt?: ((question: string) => Promise<string>) | undefined;
}

export const PASSPHRASE_ENV = 'MSTING_BACKUP_PASSPHRASE';

/** True when a passphrase was offered without asking (file or environment). */
export function passphraseOffered(sources: PassphraseSources): boolean {
  return Boolean(sources.file) || Boolean(sources.env[PASSPHRASE_ENV]);
}

/**
 * Get the passphrase from --passphrase-file, MSTING_BACKUP_PASSPHRASE or a hidden prompt; never argv.
 * `confirm` asks twice on a prompt (when encrypting).
 */
export async function obtainPassphrase(sources: PassphraseSources, confirm: boolean): Promise<string> {
  let value: string | undefined;
  if (sources.file) {
    try {
      value = (await readFile(sources.file, 'utf8')).replace(/\r?\n$/, '');
    } catch (err) {
      throw new MstingError('USAGE', `cannot read the passphrase file ${sources.file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, {
        hint: 'check the path given to --passphrase-file',
      });
    }
  } else if (sources.env[PASSPHRASE_ENV]) {
    value = sources.env[PASSPHRASE_ENV];
  } else if (sources.prompt) {
    value = await sources.prompt('Backup passphrase: ');
    if (confirm) {
      const again = await sources.prompt('Repeat the passphrase: ');
      if (again !== value) throw new MstingError('USAGE', 'the two passphrases differ', { hint: 'run the command again' });
    }
  } else {
    throw new MstingError('USAGE', 'a backup passphrase is needed and there is no terminal to ask for it', {
      hint: `give it with --passphrase-file FILE or the ${PASSPHRASE_ENV} environment variable`,
    });
  }
  if (!value) throw new MstingError('USAGE', 'the backup passphrase is empty', { hint: 'use a long passphrase; a password manager can generate one' });
  if (confirm && value.length < 12) throw new MstingError('USAGE', 'the backup passphrase is shorter than 12 characters', { hint: 'use a longer passphrase, or encrypt with the backup key file (omit --passphrase)' });
  return value;
}
