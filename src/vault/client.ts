import { get as httpGet, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import type nodeVault from 'node-vault';
import { MstingError } from '../errors.js';

/**
 * The one adapter between msting and Vault's HTTP API (v1). Requests go through node-vault,
 * loaded on the first of them. The two unauthenticated status reads, `sys/seal-status` and
 * `sys/health`, go through node:http: node-vault hides sys/health's status code, and loading it
 * (with axios) cost a third of a `msting status` run, which only asks whether Vault is sealed
 * (fetch is no cheaper: its parser is WebAssembly that the process waits to finish compiling
 * when it exits, 0.2 s on a two-CPU host). Every failure is
 * translated here, once, into a VaultError whose `kind` callers branch on (never on message text),
 * with a message that says what to run next. No secret ever reaches a message or a log: node-vault's
 * debug logger (which prints request bodies) is replaced by a no-op.
 */

/** What went wrong, decided from the status code, the `errors` list and Vault's own state. */
export type VaultErrorKind =
  | 'unreachable'
  | 'sealed'
  | 'uninitialized'
  | 'permission-denied'
  | 'missing-token'
  | 'not-found'
  | 'no-route'
  | 'invalid-request'
  | 'unavailable'
  | 'server';

export class VaultError extends MstingError {
  readonly kind: VaultErrorKind;
  /** HTTP status, when Vault answered. */
  readonly status: number | undefined;
  /** Vault's `errors` list, as sent (Vault never echoes secret values in it). */
  readonly errors: string[];

  constructor(kind: VaultErrorKind, message: string, options: { hint?: string; status?: number; errors?: string[]; cause?: unknown } = {}) {
    super('VAULT', message, {
      ...(options.hint === undefined ? {} : { hint: options.hint }),
      ...(options.cause === undefined ? {} : { cause: options.cause }),
    });
    this.name = 'VaultError';
    this.kind = kind;
    this.status = options.status;
    this.errors = options.errors ?? [];
  }
}

export function isVaultError(err: unknown, kind?: VaultErrorKind): err is VaultError {
  return err instanceof VaultError && (kind === undefined || err.kind === kind);
}

/** `GET sys/seal-status`: unauthenticated, answered in every state. */
export interface SealStatus {
  type: string;
  initialized: boolean;
  sealed: boolean;
  /** Threshold. */
  t: number;
  /** Number of shares. */
  n: number;
  progress: number;
  nonce: string;
  version: string;
  storage_type?: string;
  cluster_name?: string;
  recovery_seal?: boolean;
}

export interface HealthResult {
  /** 200 active, 429 standby, 472 DR secondary, 473 performance standby, 501 uninitialized, 503 sealed. */
  status: number;
  initialized: boolean;
  sealed: boolean;
  standby: boolean;
  version: string;
}

export interface InitResult {
  keys: string[];
  keys_base64: string[];
  root_token: string;
}

export interface TokenAuth {
  token: string;
  accessor: string;
  policies: string[];
  /** Seconds; 0 = no expiry. */
  leaseDuration: number;
}

export interface TokenInfo {
  accessor: string;
  policies: string[];
  displayName: string;
  /** Seconds left; 0 = no expiry. */
  ttl: number;
  period: number;
  renewable: boolean;
  orphan: boolean;
}

export interface KvSecret {
  data: Record<string, string>;
  version: number;
  createdTime: string;
}

export interface KvMetadata {
  currentVersion: number;
  oldestVersion: number;
  createdTime: string;
  updatedTime: string;
  customMetadata: Record<string, string>;
  versions: Record<string, { created_time: string; deletion_time: string; destroyed: boolean }>;
}

export interface MountInfo {
  type: string;
  options: Record<string, string> | null;
}

export interface ApproleRoleSettings {
  tokenPolicies: string[];
  /** Token period, so service tokens renew forever while used (e.g. "768h"). */
  tokenPeriod: string;
  secretIdNumUses: number;
  secretIdTtl: string;
}

export interface VaultClientOptions {
  address: string;
  token?: string | undefined;
  /** Per-request timeout in milliseconds (default 10 s). */
  timeoutMs?: number;
}

/** Hints that say what to run next, one per kind. */
export const VAULT_HINTS: Record<VaultErrorKind, string> = {
  unreachable: 'start it with `msting start vault` (check with `msting status`); the address comes from VAULT_ADDR, ports.vault in config.yml when Vault is published, else the vault container',
  sealed: 'run `msting unseal` (or `msting start`, which unseals with the stored shares when vault.auto_unseal is on)',
  uninitialized: 'run `msting vault init` (or `msting install`)',
  'permission-denied': 'the token msting used lacks this path or was revoked; check `msting vault status`, or set VAULT_TOKEN to a token that may',
  'missing-token': 'msting has no Vault token: run `msting vault init`, or set VAULT_TOKEN',
  'not-found': 'run `msting vault init` to generate the stack secrets, or `msting vault-secret set PROVIDER` for a provider key',
  'no-route': 'the secrets engine is not mounted: run `msting vault init` to enable it',
  'invalid-request': 'run again with --verbose for details',
  unavailable: 'Vault is busy or on standby; try again in a few seconds',
  server: 'check Vault\'s log with `msting logs vault`',
};

/** Vault's status answers are a few hundred bytes; anything past this is not Vault. */
const STATUS_BODY_LIMIT = 64 * 1024;

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNABORTED', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ERR_NETWORK']);

interface ApiResponseLike {
  response?: { statusCode?: number; body?: unknown };
  code?: string;
  cause?: { code?: string };
}

type Method = 'GET' | 'PUT' | 'POST' | 'DELETE' | 'PATCH';

export class VaultClient {
  readonly address: string;
  private readonly token: string | undefined;
  private readonly timeoutMs: number;
  private readonly settings: NonNullable<Parameters<typeof nodeVault>[0]>;
  private api: Promise<ReturnType<typeof nodeVault>> | undefined;

  constructor(options: VaultClientOptions) {
    this.address = options.address.replace(/\/+$/, '');
    this.token = options.token;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    // rpDefaults.timeout is read by node-vault but missing from its type declarations.
    const settings: NonNullable<Parameters<typeof nodeVault>[0]> & { rpDefaults: { timeout: number } } = {
      endpoint: this.address,
      apiVersion: 'v1',
      noCustomHTTPVerbs: true,
      debug: () => undefined,
      rpDefaults: { timeout: this.timeoutMs },
      ...(options.token ? { token: options.token } : {}),
    };
    this.settings = settings;
  }

  private nodeVault(): Promise<ReturnType<typeof nodeVault>> {
    this.api ??= import('node-vault').then(({ default: create }) => {
      const api = create(this.settings);
      // node-vault falls back to VAULT_TOKEN from the environment; msting passes tokens explicitly.
      if (!this.token) (api as { token?: string }).token = undefined;
      return api;
    });
    return this.api;
  }

  get hasToken(): boolean {
    return Boolean(this.token);
  }

  /** The same Vault, another token. */
  withToken(token: string | undefined): VaultClient {
    return new VaultClient({ address: this.address, token, timeoutMs: this.timeoutMs });
  }

  // ---- unauthenticated -----------------------------------------------------------------------

  async sealStatus(): Promise<SealStatus> {
    const { status, body } = await this.unauthenticatedGet('sys/seal-status');
    if (status !== 200) throw await this.translate({ response: { statusCode: status, body } }, 'GET', 'sys/seal-status');
    const seal = body as Partial<SealStatus>;
    if (typeof seal.initialized !== 'boolean' || typeof seal.sealed !== 'boolean') {
      throw new VaultError('unreachable', `${this.address} answered, but not as Vault does (GET sys/seal-status)`, { hint: VAULT_HINTS.unreachable });
    }
    return seal as SealStatus;
  }

  /** `GET sys/health` with its status code (node-vault returns only the body). */
  async health(): Promise<HealthResult> {
    const { status, body: answer } = await this.unauthenticatedGet('sys/health');
    const body = answer as Partial<HealthResult>;
    return {
      status,
      initialized: body.initialized === true,
      sealed: body.sealed !== false,
      standby: body.standby === true,
      version: typeof body.version === 'string' ? body.version : '',
    };
  }

  async initialized(): Promise<boolean> {
    const body = (await this.call('GET', 'sys/init')) as { initialized?: boolean };
    return body.initialized === true;
  }

  async init(shares: number, threshold: number): Promise<InitResult> {
    return (await this.call('PUT', 'sys/init', { secret_shares: shares, secret_threshold: threshold })) as InitResult;
  }

  /** Submit one share. A 400 here means Vault refused the share (undecodable, or a wrong combination). */
  async unseal(key: string): Promise<SealStatus> {
    return (await this.call('PUT', 'sys/unseal', { key })) as SealStatus;
  }

  async unsealReset(): Promise<SealStatus> {
    return (await this.call('PUT', 'sys/unseal', { reset: true })) as SealStatus;
  }

  // ---- system ----------------------------------------------------------------------------------

  async mounts(): Promise<Record<string, MountInfo>> {
    const body = (await this.call('GET', 'sys/mounts')) as { data?: Record<string, MountInfo> };
    return body.data ?? {};
  }

  async enableKv2(path: string, description: string): Promise<void> {
    await this.call('POST', `sys/mounts/${path}`, { type: 'kv', description, options: { version: '2' } });
  }

  async authMethods(): Promise<Record<string, { type: string }>> {
    const body = (await this.call('GET', 'sys/auth')) as { data?: Record<string, { type: string }> };
    return body.data ?? {};
  }

  async enableAuth(path: string, type: string): Promise<void> {
    await this.call('POST', `sys/auth/${path}`, { type });
  }

  /** Audit devices by path ("msting-file/"). */
  async auditDevices(): Promise<Record<string, { type: string; options: Record<string, string> | null }>> {
    const body = (await this.call('GET', 'sys/audit')) as { data?: Record<string, { type: string; options: Record<string, string> | null }> };
    return body.data ?? {};
  }

  async enableFileAudit(path: string, filePath: string, description: string): Promise<void> {
    await this.call('PUT', `sys/audit/${path}`, { type: 'file', description, options: { file_path: filePath } });
  }

  async putPolicy(name: string, hcl: string): Promise<void> {
    await this.call('PUT', `sys/policies/acl/${name}`, { policy: hcl });
  }

  /** Policy text, or undefined when there is no such policy. */
  async readPolicy(name: string): Promise<string | undefined> {
    const body = (await this.optional('GET', `sys/policies/acl/${name}`)) as { data?: { policy?: string } } | undefined;
    return body?.data?.policy;
  }

  // ---- tokens ----------------------------------------------------------------------------------

  async createToken(input: { policies: string[]; period?: string; ttl?: string; displayName: string; orphan?: boolean; noDefaultPolicy?: boolean }): Promise<TokenAuth> {
    const body = (await this.call('POST', 'auth/token/create', {
      policies: input.policies,
      display_name: input.displayName,
      ...(input.period ? { period: input.period } : {}),
      ...(input.ttl ? { ttl: input.ttl } : {}),
      ...(input.orphan ? { no_parent: true } : {}),
      ...(input.noDefaultPolicy ? { no_default_policy: true } : {}),
    })) as { auth: { client_token: string; accessor: string; policies: string[]; lease_duration: number } };
    return tokenAuth(body.auth);
  }

  async lookupSelf(): Promise<TokenInfo> {
    const body = (await this.call('GET', 'auth/token/lookup-self')) as { data: Record<string, unknown> };
    return tokenInfo(body.data);
  }

  async renewSelf(): Promise<void> {
    await this.call('POST', 'auth/token/renew-self', {});
  }

  async revokeSelf(): Promise<void> {
    await this.call('POST', 'auth/token/revoke-self', {});
  }

  /** Look up another token; undefined when it is invalid, expired or revoked. */
  async lookupToken(token: string): Promise<TokenInfo | undefined> {
    try {
      const body = (await this.call('POST', 'auth/token/lookup', { token })) as { data: Record<string, unknown> };
      return tokenInfo(body.data);
    } catch (err) {
      if (isVaultError(err, 'invalid-request') || isVaultError(err, 'permission-denied')) return undefined;
      throw err;
    }
  }

  async revokeToken(token: string): Promise<void> {
    await this.call('POST', 'auth/token/revoke', { token });
  }

  // ---- AppRole ---------------------------------------------------------------------------------

  async writeApproleRole(name: string, settings: ApproleRoleSettings): Promise<void> {
    await this.call('POST', `auth/approle/role/${name}`, {
      token_policies: settings.tokenPolicies,
      token_period: settings.tokenPeriod,
      secret_id_num_uses: settings.secretIdNumUses,
      secret_id_ttl: settings.secretIdTtl,
      token_ttl: 0,
    });
  }

  async approleRoleId(name: string): Promise<string> {
    const body = (await this.call('GET', `auth/approle/role/${name}/role-id`)) as { data: { role_id: string } };
    return body.data.role_id;
  }

  async approleSecretId(name: string): Promise<string> {
    const body = (await this.call('POST', `auth/approle/role/${name}/secret-id`, {})) as { data: { secret_id: string } };
    return body.data.secret_id;
  }

  async approleLogin(roleId: string, secretId: string): Promise<TokenAuth> {
    const body = (await this.call('POST', 'auth/approle/login', { role_id: roleId, secret_id: secretId })) as {
      auth: { client_token: string; accessor: string; policies: string[]; lease_duration: number };
    };
    return tokenAuth(body.auth);
  }

  // ---- KV version 2 ------------------------------------------------------------------------------

  /** Latest (or given) version of a secret; undefined when it does not exist or is deleted. */
  async kvRead(mount: string, path: string, version?: number): Promise<KvSecret | undefined> {
    const query = version ? `?version=${version}` : '';
    const body = (await this.optional('GET', `${mount}/data/${path}${query}`)) as
      | { data?: { data?: Record<string, unknown> | null; metadata?: { version: number; created_time: string } } }
      | undefined;
    const data = body?.data?.data;
    if (!body || !data) return undefined;
    return {
      data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)])),
      version: body.data?.metadata?.version ?? 0,
      createdTime: body.data?.metadata?.created_time ?? '',
    };
  }

  /**
   * Write a new version. `cas: 0` creates only when absent; `cas: N` writes only over version N.
   * A refused check-and-set is a 400 `invalid-request`.
   */
  async kvWrite(mount: string, path: string, data: Record<string, string>, cas?: number): Promise<number> {
    const body = (await this.call('POST', `${mount}/data/${path}`, { data, ...(cas === undefined ? {} : { options: { cas } }) })) as {
      data?: { version?: number };
    };
    return body.data?.version ?? 0;
  }

  async kvMetadata(mount: string, path: string): Promise<KvMetadata | undefined> {
    const body = (await this.optional('GET', `${mount}/metadata/${path}`)) as { data?: Record<string, unknown> } | undefined;
    if (!body?.data) return undefined;
    const d = body.data;
    return {
      currentVersion: Number(d.current_version ?? 0),
      oldestVersion: Number(d.oldest_version ?? 0),
      createdTime: String(d.created_time ?? ''),
      updatedTime: String(d.updated_time ?? ''),
      customMetadata: (d.custom_metadata ?? {}) as Record<string, string>,
      versions: (d.versions ?? {}) as KvMetadata['versions'],
    };
  }

  /** Replace the custom metadata of a secret (never its values). */
  async kvSetCustomMetadata(mount: string, path: string, customMetadata: Record<string, string>): Promise<void> {
    await this.call('POST', `${mount}/metadata/${path}`, { custom_metadata: customMetadata });
  }

  /** Keys under a folder (folders end with "/"); empty when there is nothing. */
  async kvList(mount: string, folder: string): Promise<string[]> {
    const body = (await this.optional('GET', `${mount}/metadata/${folder.replace(/\/*$/, '/')}?list=true`)) as { data?: { keys?: string[] } } | undefined;
    return body?.data?.keys ?? [];
  }

  /** Delete every version and the metadata of a secret. */
  async kvDestroyAll(mount: string, path: string): Promise<void> {
    await this.call('DELETE', `${mount}/metadata/${path}`);
  }

  // ---- transport ---------------------------------------------------------------------------------

  /** A request whose 404 means "absent" (undefined) rather than an error. */
  private async optional(method: Method, path: string, body?: Record<string, unknown>): Promise<unknown> {
    try {
      return await this.call(method, path, body);
    } catch (err) {
      if (isVaultError(err, 'not-found')) return undefined;
      throw err;
    }
  }

  /** A GET that needs no token, with its status code and JSON body ({} when it has none). */
  private async unauthenticatedGet(path: string): Promise<{ status: number; body: unknown }> {
    const url = `${this.address}/v1/${path}`;
    let text: string;
    let status: number;
    try {
      ({ status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
        const get = url.startsWith('https:') ? httpsGet : httpGet;
        const req = get(url, { signal: AbortSignal.timeout(this.timeoutMs), headers: { Accept: 'application/json' } }, (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size <= STATUS_BODY_LIMIT) chunks.push(c);
            else {
              // Not an answer Vault gives: stop reading and judge it by what it is not.
              res.destroy();
              resolve({ status: res.statusCode ?? 0, text: '' });
            }
          });
          res.on('error', reject);
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        });
        req.on('error', reject);
      }));
    } catch (err) {
      throw this.unreachable(err);
    }
    try {
      return { status, body: JSON.parse(text) as unknown };
    } catch {
      return { status, body: {} };
    }
  }

  private async call(method: Method, path: string, body?: Record<string, unknown>): Promise<unknown> {
    const api = await this.nodeVault();
    try {
      return await api.request({ path: `/${path}`, method, ...(body === undefined ? {} : { json: body }) });
    } catch (err) {
      throw await this.translate(err, method, path);
    }
  }

  private unreachable(err: unknown): VaultError {
    return new VaultError('unreachable', `Vault is not reachable at ${this.address}`, { hint: VAULT_HINTS.unreachable, cause: err });
  }

  private async translate(err: unknown, method: Method, path: string): Promise<VaultError> {
    const e = err as ApiResponseLike;
    const status = e.response?.statusCode;
    const where = `${method} ${path.replace(/\?.*$/, '')}`;
    if (status === undefined) {
      const code = e.code ?? e.cause?.code;
      if (code && CONNECTION_CODES.has(code)) return this.unreachable(err);
      return new VaultError('unreachable', `Vault at ${this.address} did not answer ${where}: ${err instanceof Error ? err.message : String(err)}`, {
        hint: VAULT_HINTS.unreachable,
        cause: err,
      });
    }
    const responseBody = e.response?.body as { errors?: unknown } | undefined;
    const errors = Array.isArray(responseBody?.errors) ? responseBody.errors.map(String) : [];
    const detail = errors.length > 0 ? `: ${errors.map(oneLine).join('; ')}` : '';
    const make = (kind: VaultErrorKind, message: string) => new VaultError(kind, message, { hint: VAULT_HINTS[kind], status, errors, cause: err });
    switch (status) {
      case 400:
        if (!this.token && !path.startsWith('sys/')) return make('missing-token', `Vault refused ${where}: no token`);
        return make('invalid-request', `Vault refused ${where}${detail}`);
      case 403:
        return make('permission-denied', `permission denied by Vault for ${where}`);
      case 404:
        // Vault answers a missing secret with an empty errors list; a path nothing is mounted on carries a message.
        return errors.length === 0 ? make('not-found', `nothing stored in Vault at ${path.replace(/\?.*$/, '')}`) : make('no-route', `Vault has no handler for ${where}`);
      case 503: {
        // Sealed, uninitialized, or overloaded/standby: Vault's own state tells them apart.
        const state = await this.sealStatusQuietly();
        if (state && !state.initialized) return make('uninitialized', 'Vault is not initialized');
        if (state?.sealed) return make('sealed', `Vault is sealed${state.t > 0 ? ` (unseal progress ${state.progress} of ${state.t})` : ''}`);
        return make('unavailable', `Vault is unavailable for ${where}${detail}`);
      }
      default:
        return make(status >= 500 ? 'server' : 'invalid-request', `Vault answered ${status} for ${where}${detail}`);
    }
  }

  /** Never through translate(), which calls it on a 503. */
  private async sealStatusQuietly(): Promise<SealStatus | undefined> {
    try {
      const { status, body } = await this.unauthenticatedGet('sys/seal-status');
      return status === 200 ? (body as SealStatus) : undefined;
    } catch {
      return undefined;
    }
  }
}

function oneLine(message: string): string {
  // Vault often wraps errors as "1 error occurred:\n\t* permission denied\n\n".
  return message
    .replace(/^\d+ errors? occurred:\s*/, '')
    .replace(/\s*\*\s*/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

function tokenAuth(auth: { client_token: string; accessor: string; policies: string[]; lease_duration: number }): TokenAuth {
  return { token: auth.client_token, accessor: auth.accessor, policies: auth.policies ?? [], leaseDuration: auth.lease_duration ?? 0 };
}

function tokenInfo(data: Record<string, unknown>): TokenInfo {
  return {
    accessor: String(data.accessor ?? ''),
    policies: Array.isArray(data.policies) ? data.policies.map(String) : [],
    displayName: String(data.display_name ?? ''),
    ttl: Number(data.ttl ?? 0),
    period: Number(data.period ?? 0),
    renewable: data.renewable === true,
    orphan: data.orphan === true,
  };
}

export function createVaultClient(options: VaultClientOptions): VaultClient {
  return new VaultClient(options);
}
