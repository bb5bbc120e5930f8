import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MstingError } from '../errors.js';
import { writeFileAtomic } from '../files/atomic-write.js';
import { describeCertificate } from './local-ca.js';
import { CERT_FILES } from './local-ca.js';
import type { AcmeClient, ChallengeResponder } from './acme.js';

/** Where the ACME account key is kept (secrets/, 0600), so renewals use the same account. */
export const ACME_ACCOUNT_KEY = 'acme-account.key';
/** What `setup-ssl --renew` needs to order again: domain, email, CA, how the challenge is answered. */
export const ACME_RENEWAL = 'acme-renewal.json';

export interface RenewalSettings {
  domain: string;
  email: string;
  directory_url: string;
  webroot: string | null;
  http_port: number;
}

export async function readRenewalSettings(secretsDir: string): Promise<RenewalSettings | undefined> {
  const text = await readOrUndefined(join(secretsDir, ACME_RENEWAL));
  if (text === undefined) return undefined;
  try {
    const doc = JSON.parse(text) as Partial<RenewalSettings>;
    if (typeof doc.domain !== 'string' || typeof doc.email !== 'string' || typeof doc.directory_url !== 'string') throw new Error('incomplete');
    return { domain: doc.domain, email: doc.email, directory_url: doc.directory_url, webroot: typeof doc.webroot === 'string' ? doc.webroot : null, http_port: typeof doc.http_port === 'number' ? doc.http_port : 80 };
  } catch {
    throw new MstingError('USAGE', `${join(secretsDir, ACME_RENEWAL)} is damaged`, { hint: 'run `msting setup-ssl --domain DOMAIN --email EMAIL` once more: it writes the file again' });
  }
}

export async function writeRenewalSettings(secretsDir: string, settings: RenewalSettings): Promise<void> {
  await writeFileAtomic(join(secretsDir, ACME_RENEWAL), `${JSON.stringify(settings, null, 2)}\n`, { mode: 0o600, dirMode: 0o700 });
}

export interface PublicCertificateInput {
  client: AcmeClient;
  domain: string;
  email: string;
  directoryUrl: string;
  certsDir: string;
  secretsDir: string;
  responder: ChallengeResponder;
  onStatus?: (message: string) => void;
}

export interface PublicCertificateResult {
  domain: string;
  accountCreated: boolean;
  notAfter: string;
  issuer: string;
  paths: { cert: string; key: string };
}

async function readOrUndefined(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** A domain ACME can issue for: a public DNS name, not an address, not localhost. */
export function checkPublicDomain(domain: string): void {
  const d = domain.toLowerCase();
  if (!/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/.test(d)) {
    throw new MstingError('USAGE', `--domain ${domain} is not a public DNS name`, { hint: 'for local use run `msting setup-ssl` without --domain: it makes a local certificate authority' });
  }
  if (/\.(local|localhost|lan|internal|test|example|invalid|home\.arpa)$/.test(d)) {
    throw new MstingError('USAGE', `${domain} is not reachable from the internet, so a public CA cannot check it`, { hint: 'run `msting setup-ssl` without --domain for a local certificate authority' });
  }
}

/**
 * Obtain a certificate for a public domain and install it as the frontend's certificate. The new
 * files replace the old ones only once the CA delivered: a failed order leaves the current
 * certificate serving.
 */
export async function obtainPublicCertificate(input: PublicCertificateInput): Promise<PublicCertificateResult> {
  checkPublicDomain(input.domain);
  const accountPath = join(input.secretsDir, ACME_ACCOUNT_KEY);
  let accountKeyPem = await readOrUndefined(accountPath);
  let accountCreated = false;
  if (!accountKeyPem) {
    accountKeyPem = await input.client.createAccountKey();
    await writeFileAtomic(accountPath, accountKeyPem, { mode: 0o600, dirMode: 0o700 });
    accountCreated = true;
  }
  const issued = await input.client.obtain({
    domains: [input.domain.toLowerCase()],
    email: input.email,
    directoryUrl: input.directoryUrl,
    accountKeyPem,
    responder: input.responder,
    ...(input.onStatus ? { onStatus: input.onStatus } : {}),
  });
  let described;
  try {
    described = describeCertificate(issued.certificatePem);
  } catch (err) {
    throw new MstingError('EXTERNAL', 'the ACME server returned something that is not a certificate', { cause: err });
  }
  if (!described.subjectAltNames.includes(input.domain.toLowerCase())) {
    throw new MstingError('EXTERNAL', `the certificate the ACME server returned does not cover ${input.domain}`);
  }
  const paths = { cert: join(input.certsDir, CERT_FILES.cert), key: join(input.certsDir, CERT_FILES.key) };
  await writeFileAtomic(paths.key, issued.keyPem.endsWith('\n') ? issued.keyPem : `${issued.keyPem}\n`, { mode: 0o600 });
  await writeFileAtomic(paths.cert, issued.certificatePem.endsWith('\n') ? issued.certificatePem : `${issued.certificatePem}\n`, { mode: 0o644 });
  return { domain: input.domain.toLowerCase(), accountCreated, notAfter: described.notAfter.toISOString(), issuer: described.issuer, paths };
}
