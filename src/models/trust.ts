import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { MstingError } from '../errors.js';

/**
 * Which certificate authorities downloads trust. Node trusts only the Mozilla roots it was built
 * with (plus NODE_EXTRA_CA_CERTS), not the system store where an operator installs the CA of a
 * TLS-inspecting proxy or of an internal mirror, so curl, git and Docker work and Node does not.
 * msting adds the system's certificates to Node's, as Node 22.15+ does with --use-system-ca, and
 * honours SSL_CERT_FILE and SSL_CERT_DIR as OpenSSL, curl and Go do.
 */

/** The distributions' bundles, in the order Go's crypto/x509 looks for them; the first found is read. */
export const SYSTEM_BUNDLES: readonly string[] = [
  '/etc/ssl/certs/ca-certificates.crt', // Debian, Ubuntu, Arch, Gentoo, Alpine with ca-certificates
  '/etc/pki/tls/certs/ca-bundle.crt', // Fedora, RHEL
  '/etc/ssl/ca-bundle.pem', // openSUSE
  '/etc/pki/tls/cacert.pem', // OpenELEC
  '/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem', // CentOS, RHEL 7+
  '/etc/ssl/cert.pem', // Alpine, macOS
];

export interface TrustStore {
  /** Certificates (PEM) beyond what Node trusts by itself; empty when the system adds nothing. */
  extra: string[];
  /** The files they were read from, for messages. */
  sources: string[];
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function pemBlocks(text: string): string[] {
  return text.match(PEM_BLOCK) ?? [];
}

/** A certificate's identity for comparing bundles: its base64 body without line breaks. */
function body(pem: string): string {
  return pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
}

/** What Node trusts without being told: its bundled roots and NODE_EXTRA_CA_CERTS. */
function nodeDefaults(env: NodeJS.ProcessEnv): string[] {
  const getCACertificates = (tls as { getCACertificates?: (type: string) => string[] }).getCACertificates;
  if (getCACertificates) return getCACertificates('default');
  const extraFile = env.NODE_EXTRA_CA_CERTS;
  let extra: string[] = [];
  if (extraFile) {
    try {
      extra = pemBlocks(readFileSync(extraFile, 'utf8'));
    } catch {
      // Node itself warns about an unreadable NODE_EXTRA_CA_CERTS at start-up.
    }
  }
  return [...tls.rootCertificates, ...extra];
}

function readNamed(variable: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new MstingError('PREFLIGHT', `${variable} names ${path}, which cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, {
      hint: `point ${variable} at a PEM file or directory of certificate authorities, or unset it to use the system's`,
    });
  }
}

export interface TrustOptions {
  /** Bundles to look for when neither SSL_CERT_FILE nor SSL_CERT_DIR is set. */
  systemBundles?: readonly string[];
  platform?: NodeJS.Platform;
}

/**
 * The certificates to add to Node's: SSL_CERT_FILE and the files in SSL_CERT_DIR (colon-separated)
 * when either is set, otherwise the first system bundle found (or, off Linux, the system store as
 * Node 22.15+ reads it). Certificates Node already has are left out, so on a stock system the
 * result is small or empty and connections keep Node's shared default context.
 */
export function loadTrustStore(env: NodeJS.ProcessEnv, options: TrustOptions = {}): TrustStore {
  const platform = options.platform ?? process.platform;
  const pems: string[] = [];
  const sources: string[] = [];
  const certFile = env.SSL_CERT_FILE?.trim();
  const certDirs = (env.SSL_CERT_DIR ?? '').split(':').map((d) => d.trim()).filter(Boolean);
  if (certFile || certDirs.length > 0) {
    if (certFile) {
      pems.push(...pemBlocks(readNamed('SSL_CERT_FILE', certFile)));
      sources.push(certFile);
    }
    for (const dir of certDirs) {
      let names: string[];
      try {
        names = readdirSync(dir).sort();
      } catch (err) {
        throw new MstingError('PREFLIGHT', `SSL_CERT_DIR names ${dir}, which cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, {
          hint: 'point SSL_CERT_DIR at directories of PEM certificates, or unset it to use the system\'s',
        });
      }
      for (const name of names) {
        const path = join(dir, name);
        try {
          if (statSync(path).isFile()) pems.push(...pemBlocks(readFileSync(path, 'utf8')));
        } catch {
          // A dangling link or an unreadable file among many: what can be read still counts.
        }
      }
      sources.push(dir);
    }
  } else if (platform === 'linux') {
    for (const path of options.systemBundles ?? SYSTEM_BUNDLES) {
      let text: string;
      try {
        text = readFileSync(path, 'utf8');
      } catch {
        continue;
      }
      pems.push(...pemBlocks(text));
      sources.push(path);
      break;
    }
  } else {
    const getCACertificates = (tls as { getCACertificates?: (type: string) => string[] }).getCACertificates;
    if (getCACertificates) {
      pems.push(...getCACertificates('system'));
      sources.push('the system store');
    }
  }
  const known = new Set(nodeDefaults(env).map(body));
  const extra: string[] = [];
  for (const pem of pems) {
    const id = body(pem);
    if (known.has(id)) continue;
    known.add(id);
    extra.push(pem);
  }
  return { extra, sources };
}

/**
 * One secure context with Node's certificates and the store's, built on first use: building it
 * parses every certificate (tens of milliseconds), which a run that never opens a TLS connection
 * should not pay. Undefined when the store adds nothing (Node's default context serves).
 */
export function lazySecureContext(env: NodeJS.ProcessEnv, store: TrustStore): () => tls.SecureContext | undefined {
  return () => {
    if (store.extra.length === 0) return undefined;
    let context = contexts.get(store);
    if (!context) {
      context = tls.createSecureContext({ ca: [...nodeDefaults(env), ...store.extra] });
      contexts.set(store, context);
    }
    return context;
  };
}

/** One context per store, shared by the run's clients (the API's and the downloads'). */
const contexts = new WeakMap<TrustStore, tls.SecureContext>();

/** OpenSSL's verdicts on a certificate chain, as Node reports them in `err.code`. */
const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_REVOKED',
]);
const EXPIRED = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);
const WRONG_NAME = new Set(['ERR_TLS_CERT_ALTNAME_INVALID', 'HOSTNAME_MISMATCH']);

/** The certificate failure in an error or its causes (undici wraps a proxy's), if there is one. */
function certificateCode(err: unknown): string | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: string }).code;
    if (code && (UNTRUSTED.has(code) || EXPIRED.has(code) || WRONG_NAME.has(code))) return code;
  }
  return undefined;
}

export function isCertificateError(err: unknown): boolean {
  return certificateCode(err) !== undefined;
}

/**
 * A certificate failure as one msting error that says what to do. Undefined when `err` is not one.
 * `store` says which files msting read, so the hint can name where a CA would be picked up.
 */
export function certificateError(err: unknown, host: string, store: TrustStore | undefined): MstingError | undefined {
  const code = certificateCode(err);
  if (code === undefined) return undefined;
  const read = store && store.sources.length > 0 ? ` (msting reads ${store.sources.join(', ')})` : '';
  if (EXPIRED.has(code)) {
    return new MstingError('HUB_TLS', `the TLS certificate of ${host} is ${code === 'CERT_HAS_EXPIRED' ? 'expired' : 'not valid yet'} (${code})`, {
      hint: 'check this machine\'s clock (timedatectl); if the clock is right, the server or the proxy in between presents an outdated certificate',
      cause: err,
    });
  }
  if (WRONG_NAME.has(code)) {
    return new MstingError('HUB_TLS', `the TLS certificate of ${host} is issued for another name (${code})`, {
      hint: 'check HF_ENDPOINT and the proxy settings (HTTPS_PROXY, NO_PROXY): something other than the hub answers for this host',
      cause: err,
    });
  }
  return new MstingError('HUB_TLS', `the TLS certificate of ${host} is not signed by an authority this machine trusts (${code})`, {
    hint:
      `a TLS-inspecting proxy or a mirror with its own certificate authority: add that CA to the system store${read} ` +
      '(Debian/Ubuntu: copy it to /usr/local/share/ca-certificates/ and run update-ca-certificates), or name its PEM file in SSL_CERT_FILE',
    cause: err,
  });
}
