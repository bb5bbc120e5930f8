import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { afterEach, describe, expect, it } from 'vitest';
import { BackupCryptoError, EncryptStream, buildHeader, keyIdOf } from '../../../src/backup/crypto-format.js';
import { formatBytes } from '../../../src/bytes.js';
import { verifyArchive } from '../../../src/backup/verify.js';
import { readKeyFile } from '../../../src/backup/keys.js';

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

async function tarBytes(): Promise<Buffer> {
  const pack = tar.pack();
  pack.entry({ name: 'volumes/data/big.bin' }, Buffer.alloc(64 * 1024, 7));
  pack.entry({ name: 'manifest.json' }, '{}');
  pack.finalize();
  const parts: Buffer[] = [];
  for await (const part of pack) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

describe('backup inputs', () => {
  it('a truncated plain .tar is reported as a damaged archive, not an internal error', async () => {
    dir = await mkdtemp(join(tmpdir(), 'msting-backup-in-'));
    const whole = await tarBytes();
    const file = join(dir, 'cut.tar');
    await writeFile(file, whole.subarray(0, 512 + 20_000));
    const report = await verifyArchive(file, {}, undefined);
    expect(report.ok).toBe(false);
    expect(report.kind).toBe('plain');
    expect(report.problems).toEqual(['the archive is damaged: its tar data ends early: the file is truncated']);
    expect(report.cryptoError?.hint).toMatch(/use another copy/);
  });

  it('a passphrase given for a key-file archive: the error says the archive needs its key file', async () => {
    dir = await mkdtemp(join(tmpdir(), 'msting-backup-in-'));
    const key = Buffer.alloc(32, 9);
    const { header, payloadKey } = buildHeader(key, { kind: 'key-file', keyId: keyIdOf(key) });
    const enc = new EncryptStream(header, payloadKey);
    const parts: Buffer[] = [];
    enc.on('data', (d: Buffer) => parts.push(d));
    await pipeline(Readable.from([await tarBytes()]), enc);
    const file = join(dir, 'sealed.tar.enc');
    await writeFile(file, Buffer.concat(parts));

    let asked = false;
    const report = await verifyArchive(file, {
      passphrase: async () => {
        asked = true;
        return 'correct horse battery staple';
      },
      passphraseOffered: true,
      keyFile: () => readKeyFile(join(dir!, 'no-such-backup.key')),
    }, undefined);
    expect(report.ok).toBe(false);
    expect(asked).toBe(false);
    expect(report.cryptoError).toBeInstanceOf(BackupCryptoError);
    expect(report.problems[0]).toMatch(
      new RegExp(`^this archive is encrypted with a backup key file \\(key id ${keyIdOf(key).toString('hex')}\\), not a passphrase, so the passphrase given is not used; backup key file .* does not exist$`),
    );
    expect(report.cryptoError?.hint).toMatch(/--key-file FILE/);
  });

  it('rates and sizes under 1 KiB are whole bytes', () => {
    expect(`${formatBytes(545.9827833572454)}/s`).toBe('546 B/s');
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
  });
});
