import { X509Certificate as NodeX509, webcrypto } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { writeFileAtomic } from '../files/atomic-write.js';

/**
 * A local certificate authority and a server certificate signed by it, for installs without a
 * public domain. Keys are ECDSA P-256 made by Node's WebCrypto; the certificates are built with
 * @peculiar/x509 (Node has no X.509 builder). Everything lands in the install's certs/ directory,
 * keys with mode 0600, where the frontend (nginx) and the API read them. The system trust store is
 * never touched: `trustNote` tells the operator how to trust the CA where they want to.
 */

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY = 86_400_000;

/**
 * File names under certs/ (mounted into the frontend and the API): server.crt/server.key are
 * what they serve, ca.crt is the CA to trust. The CA's key is not there: it stays in secrets/
 * (LOCAL_CA_KEY), which no container mounts.
 */
export const CERT_FILES = {
  caCert: 'ca.crt',
  cert: 'server.crt',
  key: 'server.key',
} as const;

/** The local CA's private key, under secrets/. */
export const LOCAL_CA_KEY = 'local-ca.key';

/** Five years: a CA key that leaks stops mattering on its own, and the operator re-trusts rarely. */
export const CA_VALIDITY_DAYS = 1825;
/** `doctor` warns when a certificate ends within this many days. */
export const EXPIRY_WARNING_DAYS = 30;
/** Browsers refuse leaf certificates valid for more than 398 days. */
export const CERT_VALIDITY_DAYS = 397;
/** A certificate closer than this to its end is renewed. */
export const RENEW_BEFORE_DAYS = 30;

/** The names the server certificate covers: the configured host name, localhost and the loopback addresses. */
export function certificateNames(hostname: string, extra: readonly string[] = []): string[] {
  const names = [hostname.toLowerCase(), 'localhost', '127.0.0.1', '::1', ...extra.map((n) => n.toLowerCase())];
  return [...new Set(names)];
}

async function exportKeyPem(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

async function importKeyPem(pem: string): Promise<CryptoKey> {
  const der = x509.PemConverter.decode(pem)[0]!;
  return webcrypto.subtle.importKey('pkcs8', der, ALG, true, ['sign']);
}

/** DER: one tag-length-value. */
function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  const length = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), length, content]);
}

/** The loopback ranges every local CA may sign for: 127.0.0.0/8 and ::1/128. */
const LOOPBACK_SUBTREES = [
  Buffer.from([127, 0, 0, 0, 255, 0, 0, 0]),
  Buffer.concat([Buffer.from([...new Array<number>(15).fill(0), 1]), Buffer.alloc(16, 0xff)]),
];

/** The DNS names a local CA may sign for: every configured name that is not an IP address. */
export function permittedDnsNames(names: readonly string[]): string[] {
  return [...new Set(names.filter((n) => isIP(n) === 0).map((n) => n.toLowerCase()))].sort();
}

/**
 * The CA's name constraints (RFC 5280 4.2.1.10), DER: permitted subtrees of the configured DNS
 * names (a name covers itself and names under it) and the loopback addresses. A certificate this
 * CA signs for any other name fails verification, so a leaked CA key cannot impersonate other
 * sites to a browser that trusts the CA.
 */
export function nameConstraintsDer(names: readonly string[]): Buffer {
  const subtree = (generalName: Buffer): Buffer => tlv(0x30, generalName);
  const subtrees = [
    ...permittedDnsNames(names).map((n) => subtree(tlv(0x82, Buffer.from(n, 'ascii')))),
    ...LOOPBACK_SUBTREES.map((range) => subtree(tlv(0x87, range))),
  ];
  return tlv(0x30, tlv(0xa0, Buffer.concat(subtrees)));
}

const NAME_CONSTRAINTS_OID = '2.5.29.30';

/** Why an existing CA must be replaced (unconstrained, constrained to other names, too long-lived), or undefined. */
export function caProblem(caPem: string, names: readonly string[]): string | undefined {
  const ca = new x509.X509Certificate(caPem);
  const ext = ca.getExtension(NAME_CONSTRAINTS_OID);
  if (!ext) return 'the local certificate authority was made without name constraints (it could sign for any site)';
  if (!Buffer.from(ext.value).equals(nameConstraintsDer(names))) return `the local certificate authority is limited to other names than ${permittedDnsNames(names).join(', ')}`;
  if (ca.notAfter.getTime() - ca.notBefore.getTime() > (CA_VALIDITY_DAYS + 1) * DAY) return 'the local certificate authority is valid for more than 5 years';
  return undefined;
}

function serial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0]! &= 0x7f; // positive
  return Buffer.from(bytes).toString('hex');
}

async function readOrUndefined(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export interface CertificateState {
  /** What a certificate covers and until when; null when there is none. */
  subjectAltNames: string[];
  notAfter: Date;
  issuer: string;
  selfIssuedByLocalCa: boolean;
}

/** DNS names and IP addresses of a PEM certificate, via Node's own parser. */
export function describeCertificate(pem: string, caPem?: string): CertificateState {
  const cert = new NodeX509(pem);
  const sans = (cert.subjectAltName ?? '')
    .split(/,\s*/)
    .map((entry) => entry.replace(/^(DNS|IP Address):/, '').toLowerCase())
    .filter(Boolean)
    .map((n) => (n === '0:0:0:0:0:0:0:1' ? '::1' : n));
  let selfIssued = false;
  if (caPem) {
    try {
      selfIssued = cert.checkIssued(new NodeX509(caPem)) && cert.verify(new NodeX509(caPem).publicKey);
    } catch {
      selfIssued = false;
    }
  }
  return { subjectAltNames: sans, notAfter: new Date(cert.validTo), issuer: cert.issuer, selfIssuedByLocalCa: selfIssued };
}

export type CertificateVerdict = { ok: true } | { ok: false; reason: string };

/** Whether an installed certificate still serves: present, covers every name, not about to expire. */
export function judgeCertificate(state: CertificateState | undefined, names: readonly string[], now: Date): CertificateVerdict {
  if (!state) return { ok: false, reason: 'there is no certificate yet' };
  const missing = names.filter((n) => !state.subjectAltNames.includes(n.toLowerCase()));
  if (missing.length > 0) return { ok: false, reason: `it does not cover ${missing.join(', ')}` };
  if (state.notAfter.getTime() - now.getTime() < RENEW_BEFORE_DAYS * DAY) return { ok: false, reason: `it expires ${state.notAfter.toISOString().slice(0, 10)}` };
  return { ok: true };
}

export interface LocalCertificatesResult {
  caCreated: boolean;
  certCreated: boolean;
  /** Why the server certificate was (re)made, or why it was kept. */
  reason: string;
  names: string[];
  paths: { caCert: string; caKey: string; cert: string; key: string };
  notAfter: string;
}

export interface EnsureLocalOptions {
  certsDir: string;
  /** Where the CA's key is kept (secrets/, mode 0700). */
  secretsDir: string;
  names: string[];
  now?: Date;
  /** Make a new server certificate even when the current one serves. */
  renew?: boolean;
}

/**
 * Make (or keep) the local CA and the server certificate. The CA is created once and reused, so
 * a browser that trusts it keeps trusting renewed certificates. A server certificate issued by
 * someone else (Let's Encrypt) is left alone unless `renew` is set.
 */
export async function ensureLocalCertificates(options: EnsureLocalOptions): Promise<LocalCertificatesResult> {
  const now = options.now ?? new Date();
  const dir = options.certsDir;
  const paths = { caCert: join(dir, CERT_FILES.caCert), caKey: join(options.secretsDir, LOCAL_CA_KEY), cert: join(dir, CERT_FILES.cert), key: join(dir, CERT_FILES.key) };
  let caPem = await readOrUndefined(paths.caCert);
  let caKeyPem = await readOrUndefined(paths.caKey);
  let caCreated = false;
  const caReplaced = caPem && caKeyPem ? safeCaProblem(caPem, options.names) : undefined;
  if (!caPem || !caKeyPem || caReplaced) {
    const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
    const ca = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: serial(),
      name: `CN=msting local CA (${options.names[0] ?? 'localhost'}), O=STING-CE`,
      notBefore: new Date(now.getTime() - 60_000),
      notAfter: new Date(now.getTime() + CA_VALIDITY_DAYS * DAY),
      keys,
      signingAlgorithm: ALG,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
        new x509.Extension(NAME_CONSTRAINTS_OID, true, nameConstraintsDer(options.names)),
      ],
    });
    caKeyPem = await exportKeyPem(keys.privateKey);
    caPem = ca.toString('pem');
    await writeFileAtomic(paths.caKey, `${caKeyPem}\n`, { mode: 0o600, dirMode: 0o700 });
    await writeFileAtomic(paths.caCert, `${caPem}\n`, { mode: 0o644 });
    caCreated = true;
  }

  const currentPem = await readOrUndefined(paths.cert);
  const current = currentPem ? safeDescribe(currentPem, caPem) : undefined;
  const verdict = judgeCertificate(current, options.names, now);
  const keyPresent = (await readOrUndefined(paths.key)) !== undefined;
  if (!caCreated && !options.renew && verdict.ok && keyPresent) {
    return { caCreated, certCreated: false, reason: 'the certificate covers every name and is valid', names: options.names, paths, notAfter: current!.notAfter.toISOString() };
  }

  const caCert = new x509.X509Certificate(caPem);
  const caKey = await importKeyPem(caKeyPem);
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
  const notAfter = new Date(now.getTime() + CERT_VALIDITY_DAYS * DAY);
  const altNames = options.names.map((n) => (isIP(n) ? { type: 'ip' as const, value: n } : { type: 'dns' as const, value: n }));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${options.names[0] ?? 'localhost'}`,
    issuer: caCert.subject,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter,
    signingKey: caKey,
    publicKey: keys.publicKey,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(altNames),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  // The key first: a certificate must never point at a key that is not there yet.
  await writeFileAtomic(paths.key, `${await exportKeyPem(keys.privateKey)}\n`, { mode: 0o600 });
  // Full chain, as nginx wants it: the server certificate, then the CA.
  await writeFileAtomic(paths.cert, `${cert.toString('pem')}\n${caPem.trim()}\n`, { mode: 0o644 });
  return {
    caCreated,
    certCreated: true,
    reason: caReplaced ? `a new certificate authority was made: ${caReplaced}; trust the new ca.crt again` : caCreated ? 'a new certificate authority was made' : options.renew ? 'renewal was asked for' : verdict.ok ? 'the key was missing' : verdict.reason,
    names: options.names,
    paths,
    notAfter: notAfter.toISOString(),
  };
}

function safeCaProblem(caPem: string, names: readonly string[]): string | undefined {
  try {
    return caProblem(caPem, names);
  } catch {
    return 'the local certificate authority could not be read';
  }
}

function safeDescribe(pem: string, caPem: string): CertificateState | undefined {
  try {
    return describeCertificate(pem, caPem);
  } catch {
    return undefined;
  }
}

/** How to trust the local CA, per platform. msting changes no trust store by itself. */
export function trustNote(caCertPath: string, platform: NodeJS.Platform = process.platform): string[] {
  const lines = [`Browsers will warn until they trust the local certificate authority ${caCertPath}. To trust it on a machine you browse from:`];
  if (platform === 'darwin') lines.push(`  sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain ${caCertPath}`);
  else {
    lines.push(`  Debian/Ubuntu: sudo cp ${caCertPath} /usr/local/share/ca-certificates/sting-ce-local-ca.crt && sudo update-ca-certificates`);
    lines.push(`  Fedora/RHEL:   sudo cp ${caCertPath} /etc/pki/ca-trust/source/anchors/ && sudo update-ca-trust`);
    lines.push('  macOS:         sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain sting-ce-local-ca.crt');
  }
  lines.push('  Firefox keeps its own store: Settings → Privacy & Security → Certificates → Import.');
  lines.push(`Copy only ca.crt; the CA's key (secrets/${LOCAL_CA_KEY}) stays on this host: it could sign certificates your browser would accept.`);
  return lines;
}
