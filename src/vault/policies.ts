import { SECRET_SPECS, VAULT_CLIENT_SERVICES, type SecretSpec } from '../stack/secrets.js';

/** KV version 2 mount that holds every stack secret. */
export const KV_MOUNT = 'sting';
/** msting's own policy: manage the `sting/` mount, its policies, service roles and tokens. */
export const ADMIN_POLICY = 'msting-admin';
/** Periodic tokens live as long as they are renewed within this period. */
export const TOKEN_PERIOD = '768h';
/** Path of the file audit device msting enables. */
export const AUDIT_DEVICE = 'msting-file';
/** Where, inside the vault container, the audit device writes: the image's /vault/logs volume. */
export const AUDIT_FILE = '/vault/logs/audit.log';

export function servicePolicyName(service: string): string {
  return `msting-svc-${service}`;
}

export function serviceRoleName(service: string): string {
  return `msting-${service}`;
}

/** KV paths (inside the mount) whose secrets a service consumes. */
export function servicePaths(service: string, specs: readonly SecretSpec[] = SECRET_SPECS): string[] {
  return [...new Set(specs.filter((s) => s.consumers.includes(service)).map((s) => s.path))].sort();
}

/** Every service that consumes at least one stack secret or has Vault rules of its own. */
export function secretConsumers(specs: readonly SecretSpec[] = SECRET_SPECS): string[] {
  return [...new Set([...specs.flatMap((s) => s.consumers), ...Object.keys(SERVICE_VAULT_RULES)])].sort();
}

export interface VaultRule {
  /** Vault API path (glob `*` at the end allowed), e.g. `sting/data/files/*`. */
  path: string;
  capabilities: readonly string[];
  /** Why the service needs it: the STING-CE code that makes the call. */
  why: string;
}

/**
 * What a service's own code does in Vault beyond reading its stack secrets. STING-CE's app keeps
 * uploaded files in KV (`sting/files/<id>`, app/utils/vault_file_client.py), stores the Bee service
 * API key it creates at bootstrap (`sting/service/bee-api-key`, app/routes/bootstrap_routes.py), and
 * lists the mounts before every file operation, failing the upload when it cannot
 * (VaultFileClient._ensure_mount_point). It never enables mounts itself once `sting/` exists,
 * which msting creates.
 */
export const SERVICE_VAULT_RULES: Readonly<Record<string, readonly VaultRule[]>> = {
  app: [
    { path: `${KV_MOUNT}/data/files/*`, capabilities: ['create', 'read', 'update'], why: 'store and read uploaded files (vault_file_client.py store_file, retrieve_file)' },
    { path: `${KV_MOUNT}/metadata/files/*`, capabilities: ['read', 'list', 'delete'], why: 'list and delete uploaded files (vault_file_client.py list_files, delete_file)' },
    { path: `${KV_MOUNT}/data/service/bee-api-key`, capabilities: ['create', 'read', 'update'], why: 'store the Bee service API key (bootstrap_routes.py)' },
    { path: `${KV_MOUNT}/metadata/service/bee-api-key`, capabilities: ['read'], why: 'versions of the Bee service API key' },
    { path: 'sys/mounts', capabilities: ['read'], why: 'the mount check before each file operation (vault_file_client.py _ensure_mount_point)' },
  ],
};

function policyRule(path: string, capabilities: readonly string[]): string {
  return `path "${path}" {\n  capabilities = [${capabilities.map((c) => `"${c}"`).join(', ')}]\n}`;
}

/**
 * A service's policy: read on exactly the KV v2 API paths of its own secrets, plus the paths its
 * own code writes (SERVICE_VAULT_RULES). KV v2 policies must name `sting/data/<path>` (values)
 * and `sting/metadata/<path>` (versions); `sting/<path>` alone would grant nothing.
 */
export function servicePolicy(service: string, specs: readonly SecretSpec[] = SECRET_SPECS): string {
  const lines = [`# ${servicePolicyName(service)}: what ${service} may read. Written by msting.`];
  for (const path of servicePaths(service, specs)) {
    lines.push(policyRule(`${KV_MOUNT}/data/${path}`, ['read']));
    lines.push(policyRule(`${KV_MOUNT}/metadata/${path}`, ['read']));
  }
  for (const rule of SERVICE_VAULT_RULES[service] ?? []) {
    lines.push(`# ${rule.why}`);
    lines.push(policyRule(rule.path, rule.capabilities));
  }
  return `${lines.join('\n')}\n`;
}

/** Policies by name for every consumer of a stack secret. */
export function planServicePolicies(specs: readonly SecretSpec[] = SECRET_SPECS): Map<string, string> {
  return new Map(secretConsumers(specs).map((service) => [servicePolicyName(service), servicePolicy(service, specs)]));
}

/** Services that talk to Vault themselves and get a token of their own. */
export function vaultClientServices(): readonly string[] {
  return VAULT_CLIENT_SERVICES;
}

/**
 * msting's admin policy: everything under the `sting/` mount, the mount itself, the service
 * policies (`msting-svc-*`) and AppRole roles, the file audit device, and token lookup/revoke for
 * the service tokens it hands out. Its own policy it may read, never write: only a root token (or
 * VAULT_TOKEN) writes `msting-admin`, so the token cannot widen itself. No sys/seal, no
 * generate-root, no other mounts or policies.
 */
export function adminPolicy(): string {
  const rule = (path: string, caps: string[]) => `path "${path}" {\n  capabilities = [${caps.map((c) => `"${c}"`).join(', ')}]\n}`;
  return `${[
    `# ${ADMIN_POLICY}: msting's own token. Written by msting.`,
    rule(`${KV_MOUNT}/*`, ['create', 'read', 'update', 'patch', 'delete', 'list']),
    rule('sys/mounts', ['read']),
    rule(`sys/mounts/${KV_MOUNT}`, ['create', 'read', 'update']),
    rule('sys/auth', ['read']),
    rule('sys/auth/approle', ['create', 'read', 'update', 'sudo']),
    rule('sys/policies/acl', ['list']),
    rule(`sys/policies/acl/${ADMIN_POLICY}`, ['read']),
    rule(`sys/policies/acl/${servicePolicyName('*')}`, ['create', 'read', 'update', 'delete', 'list']),
    rule(`sys/audit/${AUDIT_DEVICE}`, ['create', 'read', 'update', 'sudo']),
    rule('sys/audit', ['read', 'sudo']),
    rule('auth/approle/role/msting-*', ['create', 'read', 'update', 'delete', 'list']),
    rule('auth/token/lookup', ['update']),
    rule('auth/token/revoke', ['update']),
  ].join('\n')}\n`;
}
