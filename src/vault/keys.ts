import { MstingError } from '../errors.js';
import { SECRET_SPECS, secretSpec, type SecretSpec } from '../stack/secrets.js';
import type { VaultClient } from './client.js';
import { generateSecret } from './generate.js';
import { KV_MOUNT } from './policies.js';

/**
 * The stack's encryption and signing keys: the declared secrets `encryption-keys` reports on and
 * rotates. Rotating one whose old value still protects stored data makes that data unreadable, so
 * those are rotated only when named and confirmed.
 */
export interface EncryptionKey {
  id: string;
  /** What rotating it does to people and data. */
  effect: string;
  /** Data encrypted with the old value cannot be read after rotation. */
  destroysData: boolean;
}

export const ENCRYPTION_KEYS: readonly EncryptionKey[] = [
  { id: 'kratos.cookie', effect: 'every user is signed out', destroysData: false },
  { id: 'kratos.cipher', effect: 'values Kratos encrypted with the old secret (OIDC tokens, TOTP seeds) can no longer be read', destroysData: true },
  { id: 'kratos.default', effect: 'links and flows Kratos signed with the old secret stop working', destroysData: false },
  { id: 'app.flask', effect: 'every API session ends', destroysData: false },
  { id: 'app.field_key', effect: 'fields the app encrypted with the old key can no longer be read', destroysData: true },
  { id: 'internal.service_token', effect: 'services re-authenticate to each other after the restart', destroysData: false },
  { id: 'grafana.secret_key', effect: 'data-source passwords Grafana stored with the old key can no longer be read', destroysData: true },
  { id: 'backup.key', effect: 'new backups use the new key; older ones need the old version (kept in Vault\'s history)', destroysData: false },
];

export function encryptionKey(id: string): EncryptionKey {
  const key = ENCRYPTION_KEYS.find((k) => k.id === id);
  if (!key) {
    throw new MstingError('USAGE', `"${id}" is not an encryption key`, { hint: `keys: ${ENCRYPTION_KEYS.map((k) => k.id).join(', ')}` });
  }
  return key;
}

/** custom_metadata entry recording when msting last rotated a key of a path. */
const rotatedMarker = (key: string): string => `msting_rotated_${key}`;

export interface KeyStatus {
  id: string;
  path: string;
  present: boolean;
  /** KV version of the path holding the key. */
  version: number | null;
  createdTime: string | null;
  /** When msting last rotated this key; null when it never was. */
  lastRotation: string | null;
  /** Days since the current value was set (creation or last rotation). */
  ageDays: number | null;
  consumers: string[];
  destroysData: boolean;
}

/** Presence, version, age and last rotation of every encryption key (KV v2 metadata). */
export async function keysStatus(client: VaultClient, now: Date = new Date()): Promise<KeyStatus[]> {
  const out: KeyStatus[] = [];
  for (const key of ENCRYPTION_KEYS) {
    const spec = secretSpec(key.id);
    const meta = await client.kvMetadata(KV_MOUNT, spec.path);
    const current = meta ? await client.kvRead(KV_MOUNT, spec.path) : undefined;
    const present = current?.data[spec.key] !== undefined;
    const lastRotation = meta?.customMetadata[rotatedMarker(spec.key)] ?? null;
    const since = lastRotation ?? meta?.createdTime ?? null;
    out.push({
      id: key.id,
      path: `${KV_MOUNT}/${spec.path}`,
      present,
      version: meta && present ? meta.currentVersion : null,
      createdTime: meta?.createdTime || null,
      lastRotation,
      ageDays: present && since ? Math.max(0, Math.floor((now.getTime() - Date.parse(since)) / 86_400_000)) : null,
      consumers: [...spec.consumers],
      destroysData: key.destroysData,
    });
  }
  return out;
}

export interface RotationDeps {
  /** Render the compose and env files again from the new values. */
  rerender: () => Promise<void>;
  /** Restart exactly these services (those that use a rotated key). */
  restart: (services: string[]) => Promise<void>;
}

export interface RotationResult {
  rotated: Array<{ id: string; version: number }>;
  /** Services restarted: the consumers of the rotated keys, nothing else. */
  restarted: string[];
}

/**
 * Rotation plan: the named key, or every key whose rotation loses no data. A key that destroys
 * data is rotated only when named.
 */
export function planRotation(keyId: string | undefined): EncryptionKey[] {
  if (keyId !== undefined) return [encryptionKey(keyId)];
  return ENCRYPTION_KEYS.filter((k) => !k.destroysData);
}

export function consumersOf(keys: readonly EncryptionKey[], specs: readonly SecretSpec[] = SECRET_SPECS): string[] {
  const ids = new Set(keys.map((k) => k.id));
  return [...new Set(specs.filter((s) => ids.has(s.id)).flatMap((s) => s.consumers))].sort();
}

/**
 * Write a new value of each key (check-and-set on the version read, so a concurrent change is
 * refused rather than lost), record the rotation time, then re-render once and restart only the
 * services that use those keys.
 */
export async function rotateKeys(client: VaultClient, keys: readonly EncryptionKey[], deps: RotationDeps): Promise<RotationResult> {
  const rotated: RotationResult['rotated'] = [];
  for (const key of keys) {
    const spec = secretSpec(key.id);
    const current = await client.kvRead(KV_MOUNT, spec.path);
    if (!current || current.data[spec.key] === undefined) {
      throw new MstingError('VAULT', `${key.id} is not in Vault yet, so there is nothing to rotate`, { hint: 'run `msting vault init` to generate it' });
    }
    const data = { ...current.data, [spec.key]: generateSecret(spec.generator) };
    const version = await client.kvWrite(KV_MOUNT, spec.path, data, current.version);
    const meta = await client.kvMetadata(KV_MOUNT, spec.path);
    await client.kvSetCustomMetadata(KV_MOUNT, spec.path, { ...(meta?.customMetadata ?? {}), [rotatedMarker(spec.key)]: new Date().toISOString() });
    rotated.push({ id: key.id, version });
  }
  const restarted = consumersOf(keys);
  if (rotated.length > 0) {
    await deps.rerender();
    if (restarted.length > 0) await deps.restart(restarted);
  }
  return { rotated, restarted: rotated.length > 0 ? restarted : [] };
}
