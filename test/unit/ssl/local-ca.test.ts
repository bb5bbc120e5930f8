import { execFileSync } from 'node:child_process';
import { X509Certificate, createPrivateKey, createPublicKey, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

type CryptoKeyPair = webcrypto.CryptoKeyPair;
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
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

  it('keeps a certificate that still serves; a new host name needs a new CA, since the constraints name the host', async () => {
    const first = await ensureLocalCertificates({ certsDir: dir, secretsDir: join(dir, 'secrets'), names });
    const caBefore = await readFile(first.paths.caCert, 'utf8');
    const certBefore = await readFile(first.paths.cert, 'utf8');
    const again = await ensureLocalCertificates({ certsDir: dir, secretsDir: join(dir, 'secrets'), names });
    expect(again).toMatchObject({ caCreated: false, certCreated: false });
    expect(await readFile(first.paths.cert, 'utf8')).toBe(certBefore);

    const renamed = await ensureLocalCertificates({ certsDir: dir, secretsDir: join(dir, 'secrets'), names: certificateNames('other.lan') });
    expect(renamed).toMatchObject({ caCreated: true, certCreated: true });
    expect(renamed.reason).toMatch(/limited to other names than localhost, other\.lan; trust the new ca\.crt again/);
    expect(await readFile(first.paths.caCert, 'utf8')).not.toBe(caBefore);
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

  it('the CA is limited by name constraints to the host name and loopback, and lives at most 5 years', async () => {
    await ensureLocalCertificates({ certsDir: dir, secretsDir: join(dir, 'secrets'), names });
    const caPem = await readFile(join(dir, 'ca.crt'), 'utf8');
    const ca = new x509.X509Certificate(caPem);
    const constraints = ca.getExtension('2.5.29.30');
    expect(constraints?.critical).toBe(true);
    expect(ca.notAfter.getTime() - ca.notBefore.getTime()).toBeLessThanOrEqual(5 * 365 * 86_400_000 + 86_400_000);
    const text = execFileSync('openssl', ['x509', '-noout', '-text', '-in', join(dir, 'ca.crt')], { encoding: 'utf8' });
    const permitted = /Name Constraints: critical\s+Permitted:\s+([\s\S]*?)\n\s+X509v3|Name Constraints: critical\s+Permitted:\s+([\s\S]*?)\n\s+Signature/.exec(text);
    const entries = (permitted?.[1] ?? permitted?.[2] ?? '').split('\n').map((l) => l.trim()).filter(Boolean);
    expect(entries).toEqual(['DNS:localhost', 'DNS:sting.example.lan', 'IP:127.0.0.0/255.0.0.0', 'IP:0:0:0:0:0:0:0:1/FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF']);

    // The CA's own key signs a certificate for another site: verification refuses it.
    const caKey = await webcrypto.subtle.importKey('pkcs8', x509.PemConverter.decode(await readFile(join(dir, 'secrets', 'local-ca.key'), 'utf8'))[0]!, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
    const keys = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])) as CryptoKeyPair;
    const forge = async (san: string): Promise<string> => {
      const cert = await x509.X509CertificateGenerator.create({
        serialNumber: '01',
        subject: `CN=${san}`,
        issuer: ca.subject,
        notBefore: new Date(Date.now() - 60_000),
        notAfter: new Date(Date.now() + 86_400_000),
        signingKey: caKey,
        publicKey: keys.publicKey,
        signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
        extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: san }]), new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth])],
      });
      const file = join(dir, `${san}.crt`);
      await writeFile(file, cert.toString('pem'));
      return file;
    };
    const verify = (file: string): { ok: boolean; out: string } => {
      try {
        return { ok: true, out: execFileSync('openssl', ['verify', '-CAfile', join(dir, 'ca.crt'), file], { encoding: 'utf8', stdio: 'pipe' }) };
      } catch (err) {
        return { ok: false, out: String((err as { stdout?: string }).stdout ?? '') + String((err as { stderr?: string }).stderr ?? '') };
      }
    };
    const evil = verify(await forge('bank.example.com'));
    expect(evil.ok).toBe(false);
    expect(evil.out).toMatch(/permitted subtree violation/);
    expect(verify(await forge('sting.example.lan')).ok).toBe(true);
    expect(verify(join(dir, 'server.crt')).ok).toBe(true);
    // The forged certificate is signed by the CA: only the constraints refuse it.
    const forged = new X509Certificate(await readFile(join(dir, 'bank.example.com.crt'), 'utf8'));
    expect(forged.verify(new X509Certificate(caPem).publicKey)).toBe(true);
  });

  it('a CA made without name constraints (older msting) is replaced, and the reason says to trust it again', async () => {
    const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
    const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as CryptoKeyPair;
    const old = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: '01',
      name: 'CN=msting local CA (sting.example.lan), O=STING-CE',
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 3650 * 86_400_000),
      keys,
      signingAlgorithm: alg,
      extensions: [new x509.BasicConstraintsExtension(true, 0, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true)],
    });
    await mkdir(join(dir, 'secrets'), { mode: 0o700 });
    await writeFile(join(dir, 'ca.crt'), old.toString('pem'));
    await writeFile(join(dir, 'secrets', 'local-ca.key'), x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey), 'PRIVATE KEY'), { mode: 0o600 });
    const r = await ensureLocalCertificates({ certsDir: dir, secretsDir: join(dir, 'secrets'), names });
    expect(r).toMatchObject({ caCreated: true, certCreated: true });
    expect(r.reason).toMatch(/made without name constraints .*trust the new ca\.crt again/);
    expect(new x509.X509Certificate(await readFile(join(dir, 'ca.crt'), 'utf8')).getExtension('2.5.29.30')).not.toBeNull();
    const again = await ensureLocalCertificates({ certsDir: dir, secretsDir: join(dir, 'secrets'), names });
    expect(again).toMatchObject({ caCreated: false, certCreated: false });
  });
});
