import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { combine, split } from '../../vault-emulator/shamir.js';
import { capabilitiesFor, parsePolicy } from '../../vault-emulator/policy.js';
import { startVaultEmulator, type VaultEmulator } from '../../vault-emulator/server.js';

let emulator: VaultEmulator | undefined;
afterEach(async () => emulator?.close());

describe('vault emulator', () => {
  it('Shamir: any threshold of the shares rebuild the secret; fewer or foreign ones do not', () => {
    const secret = randomBytes(32);
    const shares = split(secret, 5, 3);
    expect(combine([shares[4]!, shares[0]!, shares[2]!]).equals(secret)).toBe(true);
    expect(combine([shares[1]!, shares[3]!, shares[2]!]).equals(secret)).toBe(true);
    expect(combine([shares[1]!, shares[3]!]).equals(secret)).toBe(false);
    // A share of another secret, at an x-coordinate the two real ones do not use (each split picks
    // its coordinates at random, so one of another split may coincide: combine refuses that).
    const xOf = (share: Buffer): number => share[share.length - 1]!;
    const foreign = split(randomBytes(32), 5, 3).find((f) => xOf(f) !== xOf(shares[0]!) && xOf(f) !== xOf(shares[1]!))!;
    expect(combine([shares[0]!, shares[1]!, foreign]).equals(secret)).toBe(false);
  });

  it('ACL: most specific path wins, + matches one segment, * a prefix, deny overrides', () => {
    const rules = parsePolicy(`
      path "sting/data/*" { capabilities = ["read"] }
      path "sting/data/app/+" { capabilities = ["read", "update"] }
      path "sting/data/app/secret" { capabilities = ["deny"] }
    `);
    expect([...capabilitiesFor(rules, 'sting/data/db/x')]).toEqual(['read']);
    expect([...capabilitiesFor(rules, 'sting/data/app/flask')].sort()).toEqual(['read', 'update']);
    expect([...capabilitiesFor(rules, 'sting/data/app/secret')]).toEqual(['deny']);
    expect([...capabilitiesFor(rules, 'sting/metadata/app/flask')]).toEqual([]);
    expect(() => parsePolicy('path "x" { capabilities = ["fly"] }')).toThrow(/invalid capability/);
  });

  it('ACL: a trailing * is a plain string prefix, as in Vault (it crosses segments, it is not a segment glob)', () => {
    const rules = parsePolicy(`
      path "sys/policies/acl/msting-svc-*" { capabilities = ["update"] }
      path "sys/policies/acl/msting-admin" { capabilities = ["read"] }
      path "auth/approle/role/msting-*" { capabilities = ["update"] }
    `);
    expect([...capabilitiesFor(rules, 'sys/policies/acl/msting-svc-app')]).toEqual(['update']);
    expect([...capabilitiesFor(rules, 'sys/policies/acl/msting-svc-')]).toEqual(['update']);
    expect([...capabilitiesFor(rules, 'sys/policies/acl/msting-admin')]).toEqual(['read']);
    expect([...capabilitiesFor(rules, 'sys/policies/acl/msting-svc')]).toEqual([]);
    expect([...capabilitiesFor(rules, 'sys/policies/acl/msting-adminx')]).toEqual([]);
    expect([...capabilitiesFor(rules, 'sys/policies/acl/MSTING-SVC-app')]).toEqual([]);
    expect([...capabilitiesFor(rules, 'auth/approle/role/msting-app/secret-id')]).toEqual(['update']);
    expect([...capabilitiesFor(rules, 'auth/approle/role/other')]).toEqual([]);
  });

  it('sys/health codes follow Vault, with the query overrides', async () => {
    const started = await startVaultEmulator();
    emulator = started.emulator;
    const health = async (query = '') => (await fetch(`${started.address}/v1/sys/health${query}`)).status;
    expect(await health()).toBe(501);
    expect(await health('?uninitcode=200')).toBe(200);
    expect(await health('?uninitcode=abc')).toBe(400);
    const init = (await (await fetch(`${started.address}/v1/sys/init`, { method: 'PUT', body: JSON.stringify({ secret_shares: 1, secret_threshold: 1 }) })).json()) as {
      keys: string[];
    };
    expect(await health()).toBe(503);
    expect(await health('?sealedcode=299')).toBe(299);
    const sealed = await fetch(`${started.address}/v1/sting/data/x`, { headers: { 'X-Vault-Token': 'x' } });
    expect(sealed.status).toBe(503);
    expect(await sealed.json()).toEqual({ errors: ['Vault is sealed'] });
    const bad = await fetch(`${started.address}/v1/sys/unseal`, { method: 'PUT', body: JSON.stringify({ key: 'zz' }) });
    expect(bad.status).toBe(400);
    await fetch(`${started.address}/v1/sys/unseal`, { method: 'PUT', body: JSON.stringify({ key: init.keys[0] }) });
    expect(await health()).toBe(200);
  });

  it('standby answers 429 unless standbyok', async () => {
    const started = await startVaultEmulator({ dev: true, devRootToken: 'root', standby: true });
    emulator = started.emulator;
    expect((await fetch(`${started.address}/v1/sys/health`)).status).toBe(429);
    expect((await fetch(`${started.address}/v1/sys/health?standbyok=true`)).status).toBe(200);
    const mounts = (await (await fetch(`${started.address}/v1/sys/mounts`, { headers: { 'X-Vault-Token': 'root' } })).json()) as { data: Record<string, unknown> };
    expect(Object.keys(mounts.data)).toContain('secret/');
  });
});
