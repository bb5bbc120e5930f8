import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MstingError } from '../../../src/errors.js';
import { ensureLocalCertificates } from '../../../src/ssl/local-ca.js';
import { certificateError, isCertificateError, lazySecureContext, loadTrustStore } from '../../../src/models/trust.js';

let dir: string;
let privateCa: string;
let otherCa: string;
const bundledRoot = rootCertificates[0]!;

async function makeCa(name: string): Promise<string> {
  const r = await ensureLocalCertificates({ certsDir: join(dir, name), secretsDir: join(dir, `${name}-secrets`), names: ['127.0.0.1'] });
  return (await readFile(r.paths.caCert, 'utf8')).trim();
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'msting-trust-'));
  privateCa = await makeCa('a');
  otherCa = await makeCa('b');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function codeError(code: string, message = code): Error {
  return Object.assign(new Error(message), { code });
}

describe('loadTrustStore', () => {
  it('adds the certificates of the first system bundle found that Node does not already have', async () => {
    const bundle = join(dir, 'system-bundle.crt');
    await writeFile(bundle, `${bundledRoot}\n${privateCa}\n# a comment between blocks\n${privateCa}\n`);
    const store = loadTrustStore({}, { platform: 'linux', systemBundles: [join(dir, 'absent.crt'), bundle, join(dir, 'later.crt')] });
    expect(store.sources).toEqual([bundle]);
    expect(store.extra).toEqual([privateCa]);
  });

  it('adds nothing, and reads nothing, when no bundle is there', () => {
    expect(loadTrustStore({}, { platform: 'linux', systemBundles: [join(dir, 'absent.crt')] })).toEqual({ extra: [], sources: [] });
  });

  it('reads SSL_CERT_FILE and every file of each SSL_CERT_DIR instead of the system bundle', async () => {
    const system = join(dir, 'ignored-bundle.crt');
    await writeFile(system, `${otherCa}\n`);
    const file = join(dir, 'corp-ca.pem');
    await writeFile(file, `${privateCa}\n`);
    const certDir = join(dir, 'cert-dir');
    await mkdir(join(certDir, 'nested'), { recursive: true });
    await writeFile(join(certDir, 'b.pem'), `${otherCa}\n`);
    await writeFile(join(certDir, 'README'), 'not a certificate\n');
    const onlyFile = loadTrustStore({ SSL_CERT_FILE: file }, { platform: 'linux', systemBundles: [system] });
    expect(onlyFile).toEqual({ extra: [privateCa], sources: [file] });
    const both = loadTrustStore({ SSL_CERT_FILE: file, SSL_CERT_DIR: `${certDir}:` }, { platform: 'linux', systemBundles: [system] });
    expect(both).toEqual({ extra: [privateCa, otherCa], sources: [file, certDir] });
  });

  it('stops with a preflight error naming a certificate file or directory that cannot be read', () => {
    const missing = join(dir, 'nope.pem');
    const err = (() => {
      try {
        loadTrustStore({ SSL_CERT_FILE: missing });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(MstingError);
    expect(err).toMatchObject({ code: 'PREFLIGHT', exitCode: 4, message: `SSL_CERT_FILE names ${missing}, which cannot be read (ENOENT)` });
    expect(() => loadTrustStore({ SSL_CERT_DIR: join(dir, 'no-dir') })).toThrow(/SSL_CERT_DIR names .*no-dir, which cannot be read \(ENOENT\)/);
  });
});

describe('lazySecureContext', () => {
  it('keeps Node\'s default context when the store adds nothing, and builds one context once otherwise', () => {
    expect(lazySecureContext({}, { extra: [], sources: [] })()).toBeUndefined();
    const get = lazySecureContext({}, { extra: [privateCa], sources: ['x'] });
    const first = get();
    expect(first).toBeDefined();
    expect(get()).toBe(first);
  });
});

describe('certificateError', () => {
  const store = { extra: [privateCa], sources: ['/etc/ssl/certs/ca-certificates.crt'] };

  it('says how to trust an unknown authority, naming the host and the files msting reads', () => {
    const e = certificateError(codeError('SELF_SIGNED_CERT_IN_CHAIN', 'self-signed certificate in certificate chain'), 'huggingface.co', store)!;
    expect(e.code).toBe('HUB_TLS');
    expect(e.exitCode).toBe(5);
    expect(e.message).toBe('the TLS certificate of huggingface.co is not signed by an authority this machine trusts (SELF_SIGNED_CERT_IN_CHAIN)');
    expect(e.hint).toContain('msting reads /etc/ssl/certs/ca-certificates.crt');
    expect(e.hint).toContain('SSL_CERT_FILE');
  });

  it('points at the clock for an expired certificate and at the endpoint for a wrong name', () => {
    expect(certificateError(codeError('CERT_HAS_EXPIRED'), 'cdn-lfs.hf.co', store)).toMatchObject({ message: 'the TLS certificate of cdn-lfs.hf.co is expired (CERT_HAS_EXPIRED)', hint: expect.stringContaining('clock') });
    expect(certificateError(codeError('ERR_TLS_CERT_ALTNAME_INVALID'), 'mirror.example', store)).toMatchObject({ message: expect.stringContaining('issued for another name'), hint: expect.stringContaining('HF_ENDPOINT') });
  });

  it('finds the failure inside the error a proxy tunnel wraps it in, and ignores other errors', () => {
    const wrapped = Object.assign(new Error('proxy TLS'), { code: 'UND_ERR_PRX_TLS', cause: codeError('UNABLE_TO_VERIFY_LEAF_SIGNATURE') });
    expect(isCertificateError(wrapped)).toBe(true);
    expect(certificateError(wrapped, 'huggingface.co', undefined)?.message).toContain('(UNABLE_TO_VERIFY_LEAF_SIGNATURE)');
    expect(certificateError(codeError('ECONNREFUSED'), 'huggingface.co', store)).toBeUndefined();
    expect(isCertificateError('SELF_SIGNED_CERT_IN_CHAIN')).toBe(false);
  });
});
