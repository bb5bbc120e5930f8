import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { PreflightCheck } from '../preflight/checks.js';
import { CERT_FILES, EXPIRY_WARNING_DAYS, describeCertificate } from '../ssl/local-ca.js';
import { VAULT_FILES } from '../vault/store.js';

const DAY = 86_400_000;

/**
 * Key custody: the unseal shares and msting's admin token in the same secrets/ directory mean
 * whoever reads that directory (root, a backup of it, a stolen disk) can both open Vault after a
 * restart and use it. Said as a warning with what the other arrangements give.
 */
export async function keyCustodyCheck(secretsDir: string): Promise<PreflightCheck> {
  const present = async (name: string): Promise<boolean> => (await stat(join(secretsDir, name)).catch(() => undefined))?.isFile() === true;
  const [shares, admin, root] = await Promise.all([present(VAULT_FILES.unsealKeys), present(VAULT_FILES.adminToken), present(VAULT_FILES.rootToken)]);
  if (shares && (admin || root)) {
    const token = root ? 'the root token' : "msting's admin token";
    return {
      id: 'key-custody',
      ok: false,
      severity: 'warning',
      message: `the Vault unseal shares and ${token} are both in ${secretsDir}: whoever reads that directory (root on this host, a copy of the disk or of a file backup) can unseal Vault and read every secret`,
      hint:
        '`msting vault init --shares-file FILE` on a new install writes the shares to FILE for you to take off this host (msting keeps none); on this install, move secrets/vault-unseal-keys.json off the host and run `msting unseal --shares-file FILE` (or type the shares) after each restart. `start` then waits for a person to unseal: that is the price of keeping the keys apart',
    };
  }
  return { id: 'key-custody', ok: true, severity: 'info', message: shares ? 'Vault unseal shares are kept on this host; no Vault token next to them' : 'Vault unseal shares are not kept on this host', hint: null };
}

/** The served certificate: warn when it ends within EXPIRY_WARNING_DAYS (or has ended). */
export async function certificateExpiryCheck(certsDir: string, now: Date = new Date()): Promise<PreflightCheck | undefined> {
  const pem = await readFile(join(certsDir, CERT_FILES.cert), 'utf8').catch(() => undefined);
  if (pem === undefined) return undefined;
  let notAfter: Date;
  let names: string;
  try {
    const state = describeCertificate(pem);
    notAfter = state.notAfter;
    names = state.subjectAltNames.join(', ');
  } catch {
    return { id: 'certificate', ok: false, severity: 'warning', message: `${join(certsDir, CERT_FILES.cert)} is not a certificate msting can read`, hint: 'msting setup-ssl' };
  }
  const days = Math.floor((notAfter.getTime() - now.getTime()) / DAY);
  const until = notAfter.toISOString().slice(0, 10);
  if (days < 0) return { id: 'certificate', ok: false, severity: 'error', message: `the certificate for ${names} expired on ${until}: browsers refuse the site`, hint: 'msting setup-ssl --renew' };
  if (days < EXPIRY_WARNING_DAYS) {
    return { id: 'certificate', ok: false, severity: 'warning', message: `the certificate for ${names} expires in ${days} day(s), on ${until}`, hint: 'msting setup-ssl --renew (run it daily from a timer: see docs/security.md)' };
  }
  return { id: 'certificate', ok: true, severity: 'info', message: `certificate for ${names} valid until ${until}`, hint: null };
}
