import { execFileSync } from 'node:child_process';
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { certificateNames, describeCertificate, ensureLocalCertificates, judgeCertificate } from '../../../src/ssl/local-ca.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'msting-ssl-'));
});
afterEach(async () => rm(dir, { recursive: true, force: true }));

const names = certificateNames('sting.example.lan');

describe('local certificate authority', () => {
  it('makes a CA and a server certificate for the host name, localhost and loopback, keys 0600', async () => {
    const r = await ensureLocalCertificates({ certsDir: dir, secretsDir: join(dir, 'secrets'), names });
    expect(r).toMatchObject({ caCreated: true, certCreated: true });
    const certPem = await readFile(join(dir, 'server.crt'), 'utf8');
    const caPem = await readFile(join(dir, 'ca.crt'), 'utf8');
    const cert = new X509Certificate(certPem);
    const ca = new X509Certificate(caPem);
    expect(cert.checkIssued(ca)).toBe(true);
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(ca.ca).toBe(true);
    expect(cert.ca).toBe(false);
    expect(describeCertificate(certPem).subjectAltNames.sort()).toEqual(['127.0.0.1', '::1', 'localhost', 'sting.example.lan']);
    expect((await stat(join(dir, 'server.key'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'secrets', 'local-ca.key'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'secrets'))).mode & 0o777).toBe(0o700);
    // The key matches the certificate.
    const key = createPrivateKey(await readFile(join(dir, 'server.key'), 'utf8'));
    expect(createPublicKey(key).export({ format: 'der', type: 'spki' }).equals(cert.publicKey.export({ format: 'der', type: 'spki' }))).toBe(true);
    // Browsers cap leaf validity at 398 days.
    expect(new Date(cert.validTo).getTime() - Date.now()).toBeLessThan(398 * 86_400_000);
  });

  it('openssl accepts the chain for the host name', async () => {
    await ensureLocalCertificates({ certsDir: dir, secretsDir: join(dir, 'secrets'), names });
    let openssl = true;
    try {
      execFileSync('openssl', ['version']);
    } catch {
      openssl = false;
    }
    if (!openssl) return;
    const out = execFileSync('openssl', ['verify', '-CAfile', join(dir, 'ca.crt'), '-verify_hostname', 'sting.example.lan', join(dir, 'server.crt')]).toString();
    expect(out).toMatch(/OK/);
  });

  it('keeps a certificate that still serves, renews one that misses a name, keeps the CA', async () => {
    const first = await ensureLocalCertificates({ certsDir: dir, secretsDir: join(dir, 'secrets'), names });
    const caBefore = await readFile(first.paths.caCert, 'utf8');
    const certBefore = await readFile(first.paths.cert, 'utf8');
    const again = await ensureLocalCertificates({ certsDir: dir, secretsDir: join(dir, 'secrets'), names });
    expect(again).toMatchObject({ caCreated: false, certCreated: false });
    expect(await readFile(first.paths.cert, 'utf8')).toBe(certBefore);

    const renamed = await ensureLocalCertificates({ certsDir: dir, secretsDir: join(dir, 'secrets'), names: certificateNames('other.lan') });
    expect(renamed).toMatchObject({ caCreated: false, certCreated: true });
    expect(renamed.reason).toMatch(/does not cover other\.lan/);
    expect(await readFile(first.paths.caCert, 'utf8')).toBe(caBefore);
  });

  it('renews a certificate close to its end', async () => {
    const longAgo = new Date(Date.now() - 380 * 86_400_000);
    await ensureLocalCertificates({ certsDir: dir, secretsDir: join(dir, 'secrets'), names, now: longAgo });
    const r = await ensureLocalCertificates({ certsDir: dir, secretsDir: join(dir, 'secrets'), names });
    expect(r.certCreated).toBe(true);
    expect(r.reason).toMatch(/expires/);
  });

  it('judges a missing certificate and a missing name', () => {
    expect(judgeCertificate(undefined, names, new Date())).toEqual({ ok: false, reason: 'there is no certificate yet' });
    expect(judgeCertificate({ subjectAltNames: ['localhost'], notAfter: new Date(Date.now() + 1e10), issuer: '', selfIssuedByLocalCa: true }, ['localhost', 'a.lan'], new Date())).toEqual({
      ok: false,
      reason: 'it does not cover a.lan',
    });
  });

  it('a key file without its certificate is replaced together with a new certificate', async () => {
    await ensureLocalCertificates({ certsDir: dir, secretsDir: join(dir, 'secrets'), names });
    await rm(join(dir, 'server.key'));
    await writeFile(join(dir, 'unrelated'), 'x');
    const r = await ensureLocalCertificates({ certsDir: dir, secretsDir: join(dir, 'secrets'), names });
    expect(r.certCreated).toBe(true);
  });
});
