import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import * as tar from 'tar-stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { vaultAuditEntry, writeBundle } from '../../../src/doctor/bundle.js';
import { createRedactor, REDACTED } from '../../../src/doctor/redact.js';
import type { VaultContainer } from '../../../src/vault/audit-log.js';

let home: string;
beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'msting-bundle-'));
});
afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

/** Every file of a bundle, by its name inside msting-support/. */
async function entries(path: string): Promise<Map<string, string>> {
  const extract = tar.extract();
  createReadStream(path).pipe(createGunzip()).pipe(extract as unknown as NodeJS.WritableStream);
  const out = new Map<string, string>();
  for await (const entry of extract) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(chunk as Buffer);
    out.set(entry.header.name.replace(/^msting-support\//, ''), Buffer.concat(chunks).toString('utf8'));
  }
  return out;
}

const PLANTED = 'db-password-5f3c9a1e77';
const HMAC = 'hmac-sha256:0d7f9c2b8a41e6f3';

/** A vault container whose audit log holds `log`; the only command it answers is tail. */
function vaultWithLog(log: string | null): VaultContainer & { argv: string[][] } {
  const argv: string[][] = [];
  return {
    argv,
    async exec(a) {
      argv.push(a);
      if (a[0] !== 'tail') return { exitCode: 127, output: '' };
      return log === null ? { exitCode: 1, output: "tail: can't open '/vault/logs/audit.log': No such file or directory\n" } : { exitCode: 0, output: log };
    },
    async signal() {
      throw new Error('reading the audit log must not signal Vault');
    },
  };
}

describe("the support bundle carries Vault's audit log", () => {
  it('as vault-audit.log: its recent lines, with a secret value that slipped through redacted and Vault’s hashes kept', async () => {
    const log = [
      JSON.stringify({ type: 'request', request: { path: 'sting/data/db', data: { postgres: HMAC } } }),
      // A value Vault would have hashed, planted in the clear: the redactor is the second net.
      JSON.stringify({ type: 'response', response: { data: { note: `leaked ${PLANTED}` } } }),
    ].join('\n');
    const vault = vaultWithLog(`${log}\n`);
    const path = join(home, 'support.tar.gz');
    const result = await writeBundle(path, home, [await vaultAuditEntry(vault)], createRedactor([PLANTED]));
    expect(result.files).toContain('vault-audit.log');
    expect(vault.argv).toEqual([['tail', '-n', '2000', '/vault/logs/audit.log']]);
    const audit = (await entries(path)).get('vault-audit.log')!;
    expect(audit).toContain('sting/data/db');
    expect(audit).toContain(HMAC);
    expect(audit).toContain(`leaked ${REDACTED}`);
    expect(audit).not.toContain(PLANTED);
  });

  it('a short note instead when Vault is not running or has no audit log', async () => {
    const path = join(home, 'support.tar.gz');
    await writeBundle(path, home, [await vaultAuditEntry(null)], createRedactor());
    expect((await entries(path)).get('vault-audit.log')).toMatch(/^Vault's audit log was not read: the vault container is not running\.\n$/);

    await writeBundle(path, home, [await vaultAuditEntry(vaultWithLog(null))], createRedactor());
    expect((await entries(path)).get('vault-audit.log')).toMatch(/could not be read \(tail: can't open .*No such file or directory\); vault init enables it/);
  });
});
