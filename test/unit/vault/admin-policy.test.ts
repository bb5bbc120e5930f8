import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { initVault } from '../../../src/vault/init.js';
import { ADMIN_POLICY, adminPolicy, servicePolicyName } from '../../../src/vault/policies.js';
import { VAULT_FILES } from '../../../src/vault/store.js';
import { harness, vaultSettings, type Harness } from './helpers.js';

let h: Harness;
afterEach(async () => h?.cleanup());

/** The admin policy msting wrote before it was narrowed: `msting-*` covered its own policy. */
const OLD_ADMIN_POLICY = adminPolicy()
  .split('\n')
  .filter((line, i, lines) => !/sys\/policies\/acl\/msting-/.test(line) && !/sys\/policies\/acl\/msting-/.test(lines[i - 1] ?? '') && !/sys\/policies\/acl\/msting-/.test(lines[i - 2] ?? ''))
  .join('\n')
  .concat('path "sys/policies/acl/msting-*" {\n  capabilities = ["create", "read", "update", "delete", "list"]\n}\n');

const WIDE_OPEN = 'path "*" {\n  capabilities = ["create", "read", "update", "delete", "list", "sudo"]\n}\n';

async function raw(address: string, token: string, method: string, path: string, body?: unknown): Promise<number> {
  const res = await fetch(`${address}/v1/${path}`, {
    method,
    headers: { 'X-Vault-Token': token, 'Content-Type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  await res.arrayBuffer();
  return res.status;
}

async function adminToken(): Promise<string> {
  return (await readFile(join(h.secretsDir, VAULT_FILES.adminToken), 'utf8')).trim();
}

async function expectNoEscalation(token: string): Promise<void> {
  const admin = h.client.withToken(token);
  // Its own policy: readable, never writable.
  expect(await admin.readPolicy(ADMIN_POLICY)).toBe(adminPolicy());
  expect(await raw(h.address, token, 'PUT', `sys/policies/acl/${ADMIN_POLICY}`, { policy: WIDE_OPEN })).toBe(403);
  expect(await raw(h.address, token, 'PUT', `sys/policies/acl/${ADMIN_POLICY.toUpperCase()}`, { policy: WIDE_OPEN })).toBe(403);
  // Any other policy outside the service namespace.
  expect(await raw(h.address, token, 'PUT', 'sys/policies/acl/msting-everything', { policy: WIDE_OPEN })).toBe(403);
  expect(await raw(h.address, token, 'PUT', 'sys/policies/acl/default', { policy: WIDE_OPEN })).toBe(403);
  expect(await raw(h.address, token, 'PUT', 'sys/policy/msting-admin', { policy: WIDE_OPEN })).toBe(403);
  // Seal, other mounts, tokens of its choosing.
  expect(await raw(h.address, token, 'PUT', 'sys/seal')).toBe(403);
  expect(await raw(h.address, token, 'POST', 'sys/mounts/elsewhere', { type: 'kv' })).toBe(403);
  expect(await raw(h.address, token, 'POST', 'auth/token/create', { policies: ['root'] })).toBe(403);
  expect(h.emulator.sealed).toBe(false);
  // Still unchanged after every attempt.
  expect(await admin.readPolicy(ADMIN_POLICY)).toBe(adminPolicy());
  // What it is for still works: managing a service policy.
  const name = servicePolicyName('app');
  const before = await admin.readPolicy(name);
  await admin.putPolicy(name, `${before ?? ''}# touched\n`);
  expect(await admin.readPolicy(name)).toBe(`${before ?? ''}# touched\n`);
}

describe('msting admin token cannot widen itself', () => {
  it('gets 403 writing its own policy, a path "*" policy, or sealing; a service policy still works', async () => {
    h = await harness();
    await initVault({ client: h.client, settings: vaultSettings(), secretsDir: h.secretsDir });
    await expectNoEscalation(await adminToken());
  });

  it('an admin policy written by an older msting is replaced by the next vault init', async () => {
    h = await harness();
    await initVault({ client: h.client, settings: vaultSettings({ keep_root_token: true }), secretsDir: h.secretsDir });
    const root = (await readFile(join(h.secretsDir, VAULT_FILES.rootToken), 'utf8')).trim();
    await h.client.withToken(root).putPolicy(ADMIN_POLICY, OLD_ADMIN_POLICY);
    const token = await adminToken();
    // The old policy really was the hole: its token could write any msting-* policy.
    expect(await raw(h.address, token, 'PUT', 'sys/policies/acl/msting-probe', { policy: WIDE_OPEN })).toBe(204);
    await h.client.withToken(root).revokeSelf();
    const again = await initVault({ client: h.client, settings: vaultSettings(), secretsDir: h.secretsDir });
    expect(again.warnings.join()).not.toMatch(/msting-admin/);
    await expectNoEscalation(token);
  });
});
