import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { certificateExpiryCheck, keyCustodyCheck } from '../../../src/doctor/custody.js';
import { certificateNames, ensureLocalCertificates } from '../../../src/ssl/local-ca.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'msting-doctor-'));
});
afterEach(async () => rm(dir, { recursive: true, force: true }));

const DAY = 86_400_000;

describe('doctor: key custody and certificate expiry', () => {
  it('warns when the unseal shares sit next to a Vault token, and says what --shares-file and unseal give', async () => {
    const secrets = join(dir, 'secrets');
    await mkdir(secrets);
    await writeFile(join(secrets, 'vault-unseal-keys.json'), '{}');
    expect(await keyCustodyCheck(secrets)).toMatchObject({ ok: true, severity: 'info' });
    await writeFile(join(secrets, 'vault-admin-token'), 'hvs.x');
    const check = await keyCustodyCheck(secrets);
    expect(check).toMatchObject({ id: 'key-custody', ok: false, severity: 'warning' });
    expect(check.message).toMatch(/unseal shares and msting's admin token are both in .*can unseal Vault and read every secret/);
    expect(check.hint).toMatch(/--shares-file FILE.*msting keeps none.*msting unseal --shares-file FILE/);
  });

  it('warns when the certificate ends within 30 days, is quiet otherwise, and says error once it ended', async () => {
    const names = certificateNames('sting.example.lan');
    // Made 380 days ago with a 397-day validity: 17 days left.
    await ensureLocalCertificates({ certsDir: dir, secretsDir: join(dir, 'secrets'), names, now: new Date(Date.now() - 380 * DAY) });
    const soon = await certificateExpiryCheck(dir);
    expect(soon).toMatchObject({ id: 'certificate', ok: false, severity: 'warning', hint: expect.stringMatching(/msting setup-ssl --renew/) });
    expect(soon?.message).toMatch(/expires in 1[67] day\(s\)/);
    expect(await certificateExpiryCheck(dir, new Date(Date.now() - 30 * DAY))).toMatchObject({ ok: true });
    expect(await certificateExpiryCheck(dir, new Date(Date.now() + 40 * DAY))).toMatchObject({ ok: false, severity: 'error' });
    expect(await certificateExpiryCheck(join(dir, 'none'))).toBeUndefined();
  });
});
