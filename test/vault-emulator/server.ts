import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import { appendFileSync, mkdirSync, readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { capabilitiesFor, DEFAULT_POLICY, parsePolicy, PolicyParseError, type Capability, type PathRule } from './policy.js';
import { combine, split } from './shamir.js';

/**
 * A Vault server double that answers the documented HTTP API (v1) the way Vault does: the
 * init/unseal state machine with real Shamir shares, sys/health and sys/seal-status codes, KV v2
 * with check-and-set, tokens, AppRole, and ACL policies enforced before anything else. State lives
 * in one file encrypted with the unseal key when a storage directory is given, so a new process
 * on the same directory comes back sealed, like Vault with file storage.
 */

export interface EmulatorOptions {
  /** Keep state in this directory (file storage). Without it, state is in memory. */
  storageDir?: string;
  /** Start initialized and unsealed, in memory, with a root token (`vault server -dev`). */
  dev?: boolean;
  devRootToken?: string;
  /** Answer as a standby node (health 429) — for testing clients. */
  standby?: boolean;
}

export const EMULATED_VERSION = '1.17.2';
const STATE_FILE = 'vault-emulator-state.json';
const KEY_CHECK = 'vault-emulator-keyring';
const DEFAULT_MAX_TTL = 768 * 3600;

interface TokenEntry {
  id: string;
  accessor: string;
  policies: string[];
  parent: string | null;
  orphan: boolean;
  displayName: string;
  createdAt: number;
  /** Seconds; 0 = never expires. */
  ttl: number;
  period: number;
  expiresAt: number;
  numUses: number;
  meta: Record<string, string>;
  path: string;
}

interface KvVersion {
  data: Record<string, unknown> | null;
  created_time: string;
  deletion_time: string;
  destroyed: boolean;
}

interface KvEntry {
  versions: Record<string, KvVersion>;
  current_version: number;
  oldest_version: number;
  created_time: string;
  updated_time: string;
  max_versions: number;
  cas_required: boolean;
  custom_metadata: Record<string, string> | null;
}

interface Mount {
  type: string;
  description: string;
  options: Record<string, string>;
  accessor: string;
  config: { max_versions: number; cas_required: boolean };
  kv2: Record<string, KvEntry>;
  kv1: Record<string, Record<string, unknown>>;
}

interface Role {
  role_id: string;
  token_policies: string[];
  token_ttl: number;
  token_max_ttl: number;
  token_period: number;
  token_num_uses: number;
  secret_id_ttl: number;
  secret_id_num_uses: number;
  bind_secret_id: boolean;
}

interface SecretId {
  role: string;
  accessor: string;
  usesLeft: number;
  expiresAt: number;
}

interface Barrier {
  mounts: Record<string, Mount>;
  auths: Record<string, { type: string; accessor: string; description: string }>;
  policies: Record<string, string>;
  tokens: Record<string, TokenEntry>;
  roles: Record<string, Role>;
  secretIds: Record<string, SecretId>;
  /** Audit devices by path ("msting-file/"); absent in storage written before they existed. */
  audits?: Record<string, { type: string; description: string; options: Record<string, string> }>;
}

interface SealConfig {
  initialized: boolean;
  shares: number;
  threshold: number;
  /** AES-GCM of KEY_CHECK under the root key, to tell a right combination from a wrong one. */
  keyCheck: string | null;
  barrier: string | null;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly errors: string[],
    readonly body?: Record<string, unknown>,
  ) {
    super(errors.join('; ') || `status ${status}`);
  }
}

const denied = (): HttpError => new HttpError(403, ['permission denied']);
const badRequest = (message: string): HttpError => new HttpError(400, [message]);
const notFound = (): HttpError => new HttpError(404, []);
const unsupported = (path: string): HttpError => new HttpError(404, [`no handler for route "${path}". route entry not found.`]);
const methodNotAllowed = (): HttpError => new HttpError(405, ['1 error occurred:\n\t* unsupported operation\n\n']);

function encrypt(key: Buffer, plain: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
}

function decrypt(key: Buffer, sealed: string): string {
  const raw = Buffer.from(sealed, 'base64');
  const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
  decipher.setAuthTag(raw.subarray(12, 28));
  return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
}

function now(): string {
  return new Date().toISOString();
}

function randomId(prefix: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = randomBytes(24);
  return prefix + Array.from(bytes, (b) => alphabet[b % 62]).join('');
}

/** Vault durations: a number of seconds or "10s", "5m", "768h", "1d". */
function parseDuration(value: unknown, field: string): number {
  if (value === undefined || value === null || value === '') return 0;
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return Math.floor(value);
  if (typeof value === 'string') {
    const m = /^(\d+)(s|m|h|d)?$/.exec(value.trim());
    if (m) return Number(m[1]) * ({ s: 1, m: 60, h: 3600, d: 86400 }[(m[2] ?? 's') as 's'] ?? 1);
  }
  throw badRequest(`error converting input ${String(value)} for field "${field}"`);
}

function stringList(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) return value.map(String).filter((s) => s !== '');
  return String(value)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function decodeKey(key: string): Buffer | undefined {
  if (/^[0-9a-fA-F]+$/.test(key) && key.length % 2 === 0) return Buffer.from(key, 'hex');
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(key) && key.length % 4 === 0) return Buffer.from(key, 'base64');
  return undefined;
}

function emptyBarrier(): Barrier {
  return {
    mounts: {},
    auths: { 'token/': { type: 'token', accessor: randomId('auth_token_').slice(0, 19), description: 'token based credentials' } },
    policies: {},
    tokens: {},
    roles: {},
    secretIds: {},
  };
}

export class VaultEmulator {
  private readonly options: EmulatorOptions;
  private seal: SealConfig = { initialized: false, shares: 0, threshold: 0, keyCheck: null, barrier: null };
  private barrier: Barrier | null = null;
  private rootKey: Buffer | null = null;
  private unsealParts: Buffer[] = [];
  private nonce = '';
  private server: Server | null = null;
  readonly clusterId = randomUUID();
  /** Every request the emulator answered, for tests that assert on traffic (never bodies). */
  readonly requests: Array<{ method: string; path: string; status: number }> = [];

  constructor(options: EmulatorOptions = {}) {
    this.options = options;
    if (options.dev) {
      this.rootKey = randomBytes(32);
      this.seal = { initialized: true, shares: 1, threshold: 1, keyCheck: encrypt(this.rootKey, KEY_CHECK), barrier: null };
      this.barrier = emptyBarrier();
      this.newToken({ policies: ['root'], parent: null, displayName: 'root', id: options.devRootToken });
      this.barrier.mounts['secret/'] = this.newMount('kv', { version: '2' }, 'key/value secret storage');
    } else if (options.storageDir) {
      const file = join(options.storageDir, STATE_FILE);
      if (existsSync(file)) this.seal = JSON.parse(readFileSync(file, 'utf8')) as SealConfig;
    }
  }

  get sealed(): boolean {
    return this.barrier === null;
  }

  get initialized(): boolean {
    return this.seal.initialized;
  }

  /** Listen on host:port (port 0 picks a free one). Resolves to the base address. */
  async listen(port = 0, host = '127.0.0.1'): Promise<string> {
    this.server = createServer((req, res) => {
      void this.handle(req, res);
    });
    await new Promise<void>((resolve, reject) => {
      this.server?.once('error', reject);
      this.server?.listen(port, host, () => resolve());
    });
    const address = this.server.address() as AddressInfo;
    return `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${address.port}`;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  // ---- state -------------------------------------------------------------------------------

  private persist(): void {
    // The encrypted barrier is kept in memory too, so an in-memory server survives seal/unseal.
    if (this.barrier && this.rootKey) this.seal.barrier = encrypt(this.rootKey, JSON.stringify(this.barrier));
    if (this.options.dev || !this.options.storageDir) return;
    mkdirSync(this.options.storageDir, { recursive: true, mode: 0o700 });
    const file = join(this.options.storageDir, STATE_FILE);
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.seal), { mode: 0o600 });
    renameSync(tmp, file);
  }

  private newMount(type: string, options: Record<string, string>, description: string): Mount {
    return { type, description, options, accessor: randomId(`${type}_`).slice(0, 14), config: { max_versions: 0, cas_required: false }, kv2: {}, kv1: {} };
  }

  private newToken(input: {
    policies: string[];
    parent: string | null;
    displayName: string;
    id?: string | undefined;
    ttl?: number;
    period?: number;
    numUses?: number;
    meta?: Record<string, string>;
    path?: string;
  }): TokenEntry {
    const barrier = this.barrier as Barrier;
    const isRoot = input.policies.includes('root');
    const period = input.period ?? 0;
    const ttl = period > 0 ? period : isRoot && !input.ttl ? 0 : Math.min(input.ttl || DEFAULT_MAX_TTL, DEFAULT_MAX_TTL);
    const entry: TokenEntry = {
      id: input.id ?? randomId('hvs.'),
      accessor: randomId('').slice(0, 24),
      policies: [...new Set(input.policies)].sort(),
      parent: input.parent,
      orphan: input.parent === null,
      displayName: input.displayName,
      createdAt: Date.now(),
      ttl,
      period,
      expiresAt: ttl > 0 ? Date.now() + ttl * 1000 : 0,
      numUses: input.numUses ?? 0,
      meta: input.meta ?? {},
      path: input.path ?? 'auth/token/create',
    };
    barrier.tokens[entry.id] = entry;
    return entry;
  }

  private lookupToken(id: string | undefined): TokenEntry | undefined {
    if (!id || !this.barrier) return undefined;
    const token = this.barrier.tokens[id];
    if (!token) return undefined;
    if (token.expiresAt > 0 && token.expiresAt <= Date.now()) {
      this.revokeTree(token.id);
      this.persist();
      return undefined;
    }
    return token;
  }

  private revokeTree(id: string): void {
    const barrier = this.barrier as Barrier;
    for (const child of Object.values(barrier.tokens)) if (child.parent === id) this.revokeTree(child.id);
    delete barrier.tokens[id];
  }

  private rulesFor(token: TokenEntry): PathRule[] | 'root' {
    if (token.policies.includes('root')) return 'root';
    const barrier = this.barrier as Barrier;
    const rules: PathRule[] = [];
    for (const name of token.policies) {
      const text = name === 'default' ? (barrier.policies.default ?? DEFAULT_POLICY) : barrier.policies[name];
      if (text !== undefined) rules.push(...parsePolicy(text));
    }
    return rules;
  }

  // ---- HTTP --------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://vault');
    const method = (req.method ?? 'GET').toUpperCase();
    let status = 500;
    try {
      const raw = await readBody(req);
      let body: Record<string, unknown> = {};
      if (raw.length > 0 && method !== 'GET' && method !== 'HEAD') {
        try {
          const parsed = JSON.parse(raw.toString('utf8')) as unknown;
          if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
          else throw new Error('not an object');
        } catch {
          throw badRequest('failed to parse JSON input: invalid character');
        }
      }
      if (!url.pathname.startsWith('/v1/')) throw unsupported(url.pathname);
      const path = url.pathname.slice(4).replace(/\/+$/, '');
      const result = this.route(method, path, url.searchParams, body, req.headers['x-vault-token'] as string | undefined);
      status = result.status;
      res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
      res.end(result.body === undefined || method === 'HEAD' ? undefined : JSON.stringify(result.body));
    } catch (err) {
      const e = err instanceof HttpError ? err : new HttpError(500, [err instanceof Error ? err.message : String(err)]);
      status = e.status;
      res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
      res.end(method === 'HEAD' ? undefined : JSON.stringify(e.body ?? { errors: e.errors }));
    } finally {
      this.requests.push({ method, path: url.pathname, status });
    }
  }

  private route(
    method: string,
    path: string,
    query: URLSearchParams,
    body: Record<string, unknown>,
    tokenId: string | undefined,
  ): { status: number; body?: unknown } {
    // Unauthenticated endpoints that answer while sealed.
    if (path === 'sys/health') return this.health(method, query);
    if (path === 'sys/seal-status') {
      if (method !== 'GET') throw methodNotAllowed();
      return { status: 200, body: this.sealStatus() };
    }
    if (path === 'sys/init') return this.init(method, body);
    if (path === 'sys/unseal') {
      if (method !== 'PUT' && method !== 'POST') throw methodNotAllowed();
      return this.unseal(body);
    }
    if (!this.seal.initialized || this.sealed) throw new HttpError(503, ['Vault is sealed']);

    const list = method === 'LIST' || (method === 'GET' && (query.get('list') === 'true' || query.get('list') === '1'));
    if (path === 'auth/approle/login' && this.barrier?.auths['approle/']) {
      if (method !== 'POST' && method !== 'PUT') throw methodNotAllowed();
      return this.approleLogin(body);
    }

    if (!tokenId) throw badRequest('missing client token');
    const token = this.lookupToken(tokenId);
    if (!token) throw denied();
    const capability = this.capabilityNeeded(method, list, path);
    const rules = this.rulesFor(token);
    if (rules !== 'root') {
      // Vault checks a list request against the path with a trailing slash (`files/*` grants listing `files`).
      const granted = capabilitiesFor(rules, list ? `${path}/` : path);
      const ok =
        !granted.has('deny') &&
        (capability === 'create-or-update' ? granted.has('create') || granted.has('update') : granted.has(capability)) &&
        (!this.needsSudo(path, method, body) || granted.has('sudo'));
      if (!ok) throw denied();
    }
    if (token.numUses > 0) {
      token.numUses -= 1;
      if (token.numUses === 0) this.revokeTree(token.id);
      this.persist();
    }
    return this.dispatch(method, list, path, query, body, token, rules === 'root');
  }

  private capabilityNeeded(method: string, list: boolean, path: string): Capability | 'create-or-update' {
    if (list) return 'list';
    switch (method) {
      case 'GET':
      case 'HEAD':
        return 'read';
      case 'DELETE':
        return 'delete';
      case 'PATCH':
        return 'patch';
      case 'POST':
      case 'PUT': {
        const kv = this.kvTarget(path);
        if (kv && kv.mount.type === 'kv' && kv.mount.options.version === '2' && kv.op === 'data') {
          return kv.mount.kv2[kv.key] ? 'update' : 'create';
        }
        if (kv && kv.mount.type === 'kv' && kv.mount.options.version !== '2') return kv.mount.kv1[kv.rest] ? 'update' : 'create';
        return 'create-or-update';
      }
      default:
        return 'read';
    }
  }

  private needsSudo(path: string, method: string, body: Record<string, unknown>): boolean {
    if (path === 'sys/seal') return true;
    if (path.startsWith('sys/auth/') && method !== 'GET') return true;
    if (path === 'sys/audit' || path.startsWith('sys/audit/')) return true;
    if (path === 'auth/token/create' && body.no_parent === true) return true;
    return false;
  }

  private kvTarget(path: string): { mount: Mount; mountPath: string; op: string; key: string; rest: string } | undefined {
    const barrier = this.barrier;
    if (!barrier) return undefined;
    let best: string | undefined;
    for (const mountPath of Object.keys(barrier.mounts)) {
      if (`${path}/`.startsWith(mountPath) && (best === undefined || mountPath.length > best.length)) best = mountPath;
    }
    if (best === undefined) return undefined;
    const mount = barrier.mounts[best] as Mount;
    const rest = path.slice(best.length);
    const slash = rest.indexOf('/');
    const op = slash === -1 ? rest : rest.slice(0, slash);
    const key = slash === -1 ? '' : rest.slice(slash + 1);
    return { mount, mountPath: best, op, key, rest };
  }

  private dispatch(
    method: string,
    list: boolean,
    path: string,
    query: URLSearchParams,
    body: Record<string, unknown>,
    token: TokenEntry,
    isRoot: boolean,
  ): { status: number; body?: unknown } {
    if (path === 'sys/seal') {
      if (method !== 'PUT' && method !== 'POST') throw methodNotAllowed();
      this.sealNow();
      return { status: 204 };
    }
    if (path === 'sys/mounts' || path.startsWith('sys/mounts/')) return this.mounts(method, path.slice('sys/mounts'.length).replace(/^\//, ''), body);
    if (path === 'sys/audit' || path.startsWith('sys/audit/')) return this.audits(method, path.slice('sys/audit'.length).replace(/^\//, ''), body);
    if (path === 'sys/auth' || path.startsWith('sys/auth/')) return this.auths(method, path.slice('sys/auth'.length).replace(/^\//, ''), body);
    if (path === 'sys/policies/acl' || path.startsWith('sys/policies/acl/')) return this.policies(method, list, path.slice('sys/policies/acl'.length).replace(/^\//, ''), body, 'policy');
    if (path === 'sys/policy' || path.startsWith('sys/policy/')) return this.policies(method, list, path.slice('sys/policy'.length).replace(/^\//, ''), body, 'rules');
    if (path.startsWith('auth/token/')) return this.tokens(method, path.slice('auth/token/'.length), body, token, isRoot);
    if (path.startsWith('auth/approle/') && this.barrier?.auths['approle/']) return this.approle(method, list, path.slice('auth/approle/'.length), body);
    const kv = this.kvTarget(path);
    if (kv && kv.mount.type === 'kv') {
      return kv.mount.options.version === '2' ? this.kv2(method, list, kv, query, body) : this.kv1(method, list, kv, body);
    }
    throw unsupported(path);
  }

  // ---- sys/health, seal-status, init, unseal, seal ----------------------------------------

  private health(method: string, query: URLSearchParams): { status: number; body?: unknown } {
    if (method !== 'GET' && method !== 'HEAD') throw methodNotAllowed();
    const code = (name: string, fallback: number): number => {
      const raw = query.get(name);
      if (raw === null || raw === '') return fallback;
      const n = Number(raw);
      if (!/^\d+$/.test(raw) || n < 1 || n > 599) throw badRequest(`bad code: ${raw}`);
      return n;
    };
    const standbyOk = query.has('standbyok') && query.get('standbyok') !== 'false';
    const standby = Boolean(this.options.standby) && !this.sealed;
    let status: number;
    if (!this.seal.initialized) status = code('uninitcode', 501);
    else if (this.sealed) status = code('sealedcode', 503);
    else if (standby) status = standbyOk ? code('activecode', 200) : code('standbycode', 429);
    else status = code('activecode', 200);
    // drsecondarycode and performancestandbycode are validated even though this node is neither.
    code('drsecondarycode', 472);
    code('performancestandbycode', 473);
    const body: Record<string, unknown> = {
      initialized: this.seal.initialized,
      sealed: this.sealed,
      standby,
      performance_standby: false,
      replication_performance_mode: 'disabled',
      replication_dr_mode: 'disabled',
      server_time_utc: Math.floor(Date.now() / 1000),
      version: EMULATED_VERSION,
      enterprise: false,
      echo_duration_ms: 0,
      clock_skew_ms: 0,
    };
    if (!this.sealed) Object.assign(body, { cluster_name: 'vault-cluster-emulated', cluster_id: this.clusterId });
    return { status, body };
  }

  private sealStatus(): Record<string, unknown> {
    const status: Record<string, unknown> = {
      type: 'shamir',
      initialized: this.seal.initialized,
      sealed: this.sealed,
      t: this.seal.threshold,
      n: this.seal.shares,
      progress: this.unsealParts.length,
      nonce: this.nonce,
      version: EMULATED_VERSION,
      build_date: '2024-08-01T00:00:00Z',
      migration: false,
      recovery_seal: false,
      storage_type: this.options.dev || !this.options.storageDir ? 'inmem' : 'file',
    };
    if (!this.sealed) Object.assign(status, { cluster_name: 'vault-cluster-emulated', cluster_id: this.clusterId });
    return status;
  }

  private init(method: string, body: Record<string, unknown>): { status: number; body?: unknown } {
    if (method === 'GET') return { status: 200, body: { initialized: this.seal.initialized } };
    if (method !== 'PUT' && method !== 'POST') throw methodNotAllowed();
    if (this.seal.initialized) throw badRequest('Vault is already initialized');
    if (stringList(body.pgp_keys).length > 0 || body.root_token_pgp_key) throw badRequest('pgp_keys are not supported by this server');
    if (body.recovery_shares !== undefined || body.recovery_threshold !== undefined) {
      throw badRequest('parameters recovery_shares,recovery_threshold not applicable to seal type shamir');
    }
    const shares = Number(body.secret_shares);
    const threshold = Number(body.secret_threshold);
    if (!Number.isInteger(shares) || shares < 1) throw badRequest('invalid seal configuration: secret shares must be at least one');
    if (shares > 255) throw badRequest('invalid seal configuration: secret shares must be at most 255');
    if (!Number.isInteger(threshold) || threshold < 1) throw badRequest('invalid seal configuration: secret threshold must be at least one');
    if (threshold > shares) throw badRequest('invalid seal configuration: secret threshold cannot be larger than secret shares');
    if (shares > 1 && threshold < 2) throw badRequest('invalid seal configuration: secret threshold must be greater than one for multiple shares');
    const key = randomBytes(32);
    const parts = split(key, shares, threshold);
    this.rootKey = key;
    this.barrier = emptyBarrier();
    const root = this.newToken({ policies: ['root'], parent: null, displayName: 'root' });
    this.seal = { initialized: true, shares, threshold, keyCheck: encrypt(key, KEY_CHECK), barrier: null };
    this.persist();
    // A fresh Vault comes out of init sealed.
    this.barrier = null;
    this.rootKey = null;
    this.unsealParts = [];
    return {
      status: 200,
      body: { keys: parts.map((p) => p.toString('hex')), keys_base64: parts.map((p) => p.toString('base64')), root_token: root.id },
    };
  }

  private unseal(body: Record<string, unknown>): { status: number; body?: unknown } {
    if (body.reset === true) {
      if (!this.sealed) throw badRequest('vault is unsealed');
      this.unsealParts = [];
      this.nonce = '';
      return { status: 200, body: this.sealStatus() };
    }
    if (!this.seal.initialized) throw badRequest('Vault is not initialized');
    if (typeof body.key !== 'string' || body.key === '') {
      throw badRequest("'key' must be specified in request body as JSON, or 'reset' set to true");
    }
    if (!this.sealed) return { status: 200, body: this.sealStatus() };
    const key = decodeKey(body.key.trim());
    if (!key) throw badRequest("'key' must be a valid hex or base64 string");
    if (key.length !== 33) {
      this.unsealParts = [];
      this.nonce = '';
      throw badRequest(`Error unsealing: invalid key length ${key.length}`);
    }
    if (this.unsealParts.some((p) => p.equals(key))) return { status: 200, body: this.sealStatus() };
    if (this.unsealParts.length === 0) this.nonce = randomUUID();
    this.unsealParts.push(key);
    if (this.unsealParts.length < this.seal.threshold) return { status: 200, body: this.sealStatus() };
    const parts = this.unsealParts;
    this.unsealParts = [];
    this.nonce = '';
    let candidate: Buffer;
    try {
      candidate = combine(parts);
      if (decrypt(candidate, this.seal.keyCheck ?? '') !== KEY_CHECK) throw new Error('mismatch');
    } catch (err) {
      const reason = err instanceof Error && err.message === 'duplicate part detected' ? err.message : 'cipher: message authentication failed';
      throw badRequest(`Error unsealing: failed to decrypt keys from storage: ${reason}`);
    }
    this.rootKey = candidate;
    this.barrier = this.seal.barrier ? (JSON.parse(decrypt(candidate, this.seal.barrier)) as Barrier) : emptyBarrier();
    return { status: 200, body: this.sealStatus() };
  }

  /** Seal, as `PUT sys/seal` or a process restart does. */
  sealNow(): void {
    this.persist();
    this.barrier = null;
    this.rootKey = null;
    this.unsealParts = [];
    this.nonce = '';
  }

  // ---- sys/mounts, sys/auth, sys/policies ---------------------------------------------------

  private mounts(method: string, sub: string, body: Record<string, unknown>): { status: number; body?: unknown } {
    const barrier = this.barrier as Barrier;
    if (sub === '') {
      if (method !== 'GET') throw methodNotAllowed();
      const data: Record<string, unknown> = {
        'cubbyhole/': { type: 'cubbyhole', description: 'per-token private secret storage', options: null, local: true },
        'identity/': { type: 'identity', description: 'identity store', options: null },
        'sys/': { type: 'system', description: 'system endpoints used for control, policy and debugging', options: null },
      };
      for (const [p, m] of Object.entries(barrier.mounts)) {
        data[p] = { type: m.type, description: m.description, accessor: m.accessor, options: m.options, config: {}, local: false, seal_wrap: false };
      }
      return ok({ ...data, data });
    }
    const mountPath = `${sub.replace(/\/+$/, '')}/`;
    if (method === 'POST' || method === 'PUT') {
      if (mountPath.startsWith('sys/') || mountPath === 'cubbyhole/' || mountPath === 'identity/' || mountPath.startsWith('auth/')) {
        throw badRequest(`cannot mount at reserved path "${mountPath}"`);
      }
      for (const existing of Object.keys(barrier.mounts)) {
        if (existing.startsWith(mountPath) || mountPath.startsWith(existing)) throw badRequest(`path is already in use at ${existing}`);
      }
      const type = String(body.type ?? '');
      const options = (body.options ?? {}) as Record<string, unknown>;
      if (type !== 'kv' && type !== 'kv-v2') throw badRequest(`plugin not found in the catalog: ${type}`);
      const version = type === 'kv-v2' ? '2' : String(options.version ?? '1');
      if (version !== '1' && version !== '2') throw badRequest(`invalid kv version: ${version}`);
      barrier.mounts[mountPath] = this.newMount('kv', { version }, String(body.description ?? ''));
      this.persist();
      return { status: 204 };
    }
    if (method === 'DELETE') {
      delete barrier.mounts[mountPath];
      this.persist();
      return { status: 204 };
    }
    if (method === 'GET') {
      const m = barrier.mounts[mountPath];
      if (!m) throw badRequest(`No secret engine mount at ${mountPath}`);
      return ok({ type: m.type, description: m.description, accessor: m.accessor, options: m.options });
    }
    throw methodNotAllowed();
  }

  /**
   * Audit devices. Like Vault, a `file` device is refused unless its file can be opened for
   * appending (Vault's "sanity check failed on audit device"); `stdout` and `discard` always work.
   */
  private audits(method: string, sub: string, body: Record<string, unknown>): { status: number; body?: unknown } {
    const barrier = this.barrier as Barrier;
    const audits = (barrier.audits ??= {});
    if (sub === '') {
      if (method !== 'GET') throw methodNotAllowed();
      const data: Record<string, unknown> = {};
      for (const [p, a] of Object.entries(audits)) data[p] = { type: a.type, description: a.description, options: a.options, path: p };
      return ok({ ...data, data });
    }
    const devicePath = `${sub.replace(/\/+$/, '')}/`;
    if (method === 'POST' || method === 'PUT') {
      if (audits[devicePath]) throw badRequest(`path already in use`);
      const type = String(body.type ?? '');
      if (type !== 'file') throw badRequest(`unknown backend type: "${type}"`);
      const options = Object.fromEntries(Object.entries((body.options ?? {}) as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
      const filePath = options.file_path ?? options.path ?? '';
      if (filePath === '') throw badRequest('file_path is required');
      if (filePath !== 'stdout' && filePath !== 'discard') {
        try {
          appendFileSync(filePath, '', { mode: 0o600 });
        } catch (err) {
          throw badRequest(`sanity check failed on audit device: open ${filePath}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
        }
      }
      audits[devicePath] = { type, description: String(body.description ?? ''), options };
      this.persist();
      return { status: 204 };
    }
    if (method === 'DELETE') {
      delete audits[devicePath];
      this.persist();
      return { status: 204 };
    }
    throw methodNotAllowed();
  }

  private auths(method: string, sub: string, body: Record<string, unknown>): { status: number; body?: unknown } {
    const barrier = this.barrier as Barrier;
    if (sub === '') {
      if (method !== 'GET') throw methodNotAllowed();
      const data: Record<string, unknown> = {};
      for (const [p, a] of Object.entries(barrier.auths)) data[p] = { type: a.type, accessor: a.accessor, description: a.description, options: null };
      return ok({ ...data, data });
    }
    const mountPath = `${sub.replace(/\/+$/, '')}/`;
    if (method === 'POST' || method === 'PUT') {
      if (barrier.auths[mountPath]) throw badRequest(`path is already in use at ${mountPath}`);
      const type = String(body.type ?? '');
      if (type !== 'approle' || mountPath !== 'approle/') throw badRequest(`plugin not found in the catalog: ${type}`);
      barrier.auths[mountPath] = { type, accessor: randomId('auth_approle_').slice(0, 21), description: String(body.description ?? '') };
      this.persist();
      return { status: 204 };
    }
    if (method === 'DELETE') {
      if (mountPath === 'token/') throw badRequest('token credential backend cannot be disabled');
      delete barrier.auths[mountPath];
      if (mountPath === 'approle/') {
        barrier.roles = {};
        barrier.secretIds = {};
      }
      this.persist();
      return { status: 204 };
    }
    throw methodNotAllowed();
  }

  private policies(method: string, list: boolean, name: string, body: Record<string, unknown>, field: 'policy' | 'rules'): { status: number; body?: unknown } {
    const barrier = this.barrier as Barrier;
    if (name === '' || list) {
      if (method !== 'GET' && method !== 'LIST') throw methodNotAllowed();
      const keys = ['default', ...Object.keys(barrier.policies).filter((k) => k !== 'default'), 'root'].sort();
      return ok(field === 'rules' ? { policies: keys, keys } : { keys });
    }
    const policyName = name.toLowerCase();
    if (method === 'GET') {
      const text = policyName === 'default' ? (barrier.policies.default ?? DEFAULT_POLICY) : policyName === 'root' ? '' : barrier.policies[policyName];
      if (text === undefined) throw notFound();
      return ok({ name: policyName, [field]: text });
    }
    if (method === 'PUT' || method === 'POST') {
      if (policyName === 'root') throw badRequest('cannot update "root" policy');
      const text = body[field] ?? body.policy ?? body.rules;
      if (typeof text !== 'string') throw badRequest(`'${field}' parameter not supplied or empty`);
      try {
        parsePolicy(text);
      } catch (err) {
        if (err instanceof PolicyParseError) throw badRequest(`failed to parse policy: ${err.message}`);
        throw err;
      }
      barrier.policies[policyName] = text;
      this.persist();
      return { status: 204 };
    }
    if (method === 'DELETE') {
      if (policyName === 'root' || policyName === 'default') throw badRequest(`cannot delete "${policyName}" policy`);
      delete barrier.policies[policyName];
      this.persist();
      return { status: 204 };
    }
    throw methodNotAllowed();
  }

  // ---- auth/token ---------------------------------------------------------------------------

  private tokenAuth(token: TokenEntry): Record<string, unknown> {
    return {
      client_token: token.id,
      accessor: token.accessor,
      policies: token.policies,
      token_policies: token.policies,
      metadata: token.meta,
      lease_duration: token.ttl,
      renewable: token.ttl > 0,
      entity_id: '',
      token_type: 'service',
      orphan: token.orphan,
      num_uses: token.numUses,
    };
  }

  private tokenData(token: TokenEntry): Record<string, unknown> {
    const ttlLeft = token.expiresAt > 0 ? Math.max(0, Math.round((token.expiresAt - Date.now()) / 1000)) : 0;
    return {
      accessor: token.accessor,
      creation_time: Math.floor(token.createdAt / 1000),
      creation_ttl: token.ttl,
      display_name: token.displayName,
      entity_id: '',
      expire_time: token.expiresAt > 0 ? new Date(token.expiresAt).toISOString() : null,
      explicit_max_ttl: 0,
      id: token.id,
      issue_time: new Date(token.createdAt).toISOString(),
      meta: token.meta,
      num_uses: token.numUses,
      orphan: token.orphan,
      path: token.path,
      period: token.period || undefined,
      policies: token.policies,
      renewable: token.ttl > 0,
      ttl: ttlLeft,
      type: 'service',
    };
  }

  private tokens(method: string, sub: string, body: Record<string, unknown>, caller: TokenEntry, isRoot: boolean): { status: number; body?: unknown } {
    const barrier = this.barrier as Barrier;
    const post = method === 'POST' || method === 'PUT';
    if (sub === 'create' || sub === 'create-orphan') {
      if (!post) throw methodNotAllowed();
      const requested = stringList(body.policies);
      const policies = requested.length > 0 ? requested : caller.policies.filter((p) => p !== 'root' || isRoot);
      if (!isRoot) {
        const extra = policies.filter((p) => p !== 'default' && !caller.policies.includes(p));
        if (extra.length > 0) throw badRequest(`child policies must be subset of parent`);
      }
      const orphan = sub === 'create-orphan' || body.no_parent === true;
      const withDefault = body.no_default_policy === true || policies.includes('root') ? policies : [...policies, 'default'];
      const created = this.newToken({
        policies: withDefault,
        parent: orphan ? null : caller.id,
        displayName: `token${body.display_name ? `-${String(body.display_name)}` : ''}`,
        id: typeof body.id === 'string' && isRoot ? body.id : undefined,
        ttl: parseDuration(body.ttl, 'ttl'),
        period: parseDuration(body.period, 'period'),
        numUses: Number(body.num_uses ?? 0) || 0,
        meta: (body.meta ?? {}) as Record<string, string>,
      });
      this.persist();
      return ok(null, this.tokenAuth(created));
    }
    if (sub === 'lookup-self') {
      if (method !== 'GET' && !post) throw methodNotAllowed();
      return ok(this.tokenData(caller));
    }
    if (sub === 'lookup') {
      if (!post && method !== 'GET') throw methodNotAllowed();
      const target = this.lookupToken(typeof body.token === 'string' ? body.token : undefined);
      if (!target) throw badRequest('bad token');
      return ok(this.tokenData(target));
    }
    if (sub === 'renew-self' || sub === 'renew') {
      if (!post) throw methodNotAllowed();
      const target = sub === 'renew' ? this.lookupToken(typeof body.token === 'string' ? body.token : undefined) : caller;
      if (!target) throw badRequest('bad token');
      if (target.ttl === 0) throw badRequest('lease is not renewable');
      const increment = parseDuration(body.increment, 'increment') || target.ttl;
      const ttl = target.period > 0 ? target.period : Math.min(increment, DEFAULT_MAX_TTL);
      target.expiresAt = Date.now() + ttl * 1000;
      this.persist();
      return ok(null, { ...this.tokenAuth(target), lease_duration: ttl });
    }
    if (sub === 'revoke-self') {
      if (!post) throw methodNotAllowed();
      this.revokeTree(caller.id);
      this.persist();
      return { status: 204 };
    }
    if (sub === 'revoke' || sub === 'revoke-orphan') {
      if (!post) throw methodNotAllowed();
      const target = typeof body.token === 'string' ? barrier.tokens[body.token] : undefined;
      if (target) {
        if (sub === 'revoke-orphan') {
          for (const child of Object.values(barrier.tokens)) if (child.parent === target.id) child.parent = null;
          delete barrier.tokens[target.id];
        } else this.revokeTree(target.id);
        this.persist();
      }
      return { status: 204 };
    }
    throw unsupported(`auth/token/${sub}`);
  }

  // ---- auth/approle -------------------------------------------------------------------------

  private approle(method: string, list: boolean, sub: string, body: Record<string, unknown>): { status: number; body?: unknown } {
    const barrier = this.barrier as Barrier;
    const post = method === 'POST' || method === 'PUT';
    if (sub === 'role') {
      if (!list) throw methodNotAllowed();
      const keys = Object.keys(barrier.roles).sort();
      if (keys.length === 0) throw notFound();
      return ok({ keys });
    }
    const m = /^role\/([A-Za-z0-9_.-]+)(?:\/(role-id|secret-id))?$/.exec(sub);
    if (!m) throw unsupported(`auth/approle/${sub}`);
    const name = (m[1] ?? '').toLowerCase();
    const what = m[2];
    const role = barrier.roles[name];
    if (what === undefined) {
      if (post) {
        const policies = stringList(body.token_policies ?? body.policies);
        const previous = role ?? {
          role_id: randomUUID(),
          token_policies: [],
          token_ttl: 0,
          token_max_ttl: 0,
          token_period: 0,
          token_num_uses: 0,
          secret_id_ttl: 0,
          secret_id_num_uses: 0,
          bind_secret_id: true,
        };
        barrier.roles[name] = {
          ...previous,
          token_policies: body.token_policies !== undefined || body.policies !== undefined ? policies : previous.token_policies,
          token_ttl: body.token_ttl !== undefined ? parseDuration(body.token_ttl, 'token_ttl') : previous.token_ttl,
          token_max_ttl: body.token_max_ttl !== undefined ? parseDuration(body.token_max_ttl, 'token_max_ttl') : previous.token_max_ttl,
          token_period: body.token_period !== undefined ? parseDuration(body.token_period, 'token_period') : previous.token_period,
          token_num_uses: body.token_num_uses !== undefined ? Number(body.token_num_uses) : previous.token_num_uses,
          secret_id_ttl: body.secret_id_ttl !== undefined ? parseDuration(body.secret_id_ttl, 'secret_id_ttl') : previous.secret_id_ttl,
          secret_id_num_uses: body.secret_id_num_uses !== undefined ? Number(body.secret_id_num_uses) : previous.secret_id_num_uses,
          bind_secret_id: body.bind_secret_id !== undefined ? body.bind_secret_id !== false : previous.bind_secret_id,
        };
        this.persist();
        return { status: 204 };
      }
      if (method === 'GET') {
        if (!role) throw notFound();
        const { role_id: _roleId, ...rest } = role;
        return ok({ ...rest, policies: role.token_policies });
      }
      if (method === 'DELETE') {
        delete barrier.roles[name];
        for (const [id, s] of Object.entries(barrier.secretIds)) if (s.role === name) delete barrier.secretIds[id];
        this.persist();
        return { status: 204 };
      }
      throw methodNotAllowed();
    }
    if (!role) throw badRequest(`role "${name}" does not exist`);
    if (what === 'role-id') {
      if (method === 'GET') return ok({ role_id: role.role_id });
      if (post) {
        if (typeof body.role_id !== 'string' || body.role_id === '') throw badRequest('missing role_id');
        role.role_id = body.role_id;
        this.persist();
        return { status: 204 };
      }
      throw methodNotAllowed();
    }
    if (!post) throw methodNotAllowed();
    const secretId = randomUUID();
    const accessor = randomUUID();
    barrier.secretIds[secretId] = {
      role: name,
      accessor,
      usesLeft: role.secret_id_num_uses,
      expiresAt: role.secret_id_ttl > 0 ? Date.now() + role.secret_id_ttl * 1000 : 0,
    };
    this.persist();
    return ok({ secret_id: secretId, secret_id_accessor: accessor, secret_id_ttl: role.secret_id_ttl, secret_id_num_uses: role.secret_id_num_uses });
  }

  private approleLogin(body: Record<string, unknown>): { status: number; body?: unknown } {
    const barrier = this.barrier as Barrier;
    if (typeof body.role_id !== 'string' || body.role_id === '') throw badRequest('missing role_id');
    const entry = Object.entries(barrier.roles).find(([, r]) => r.role_id === body.role_id);
    if (!entry) throw badRequest('invalid role ID');
    const [name, role] = entry;
    if (role.bind_secret_id) {
      const secretId = typeof body.secret_id === 'string' ? body.secret_id : '';
      const secret = barrier.secretIds[secretId];
      if (!secret || secret.role !== name || (secret.expiresAt > 0 && secret.expiresAt <= Date.now())) throw badRequest('invalid secret id');
      if (secret.usesLeft > 0) {
        secret.usesLeft -= 1;
        if (secret.usesLeft === 0) delete barrier.secretIds[secretId];
      }
    }
    const token = this.newToken({
      policies: ['default', ...role.token_policies],
      parent: null,
      displayName: `approle`,
      ttl: role.token_ttl,
      period: role.token_period,
      numUses: role.token_num_uses,
      meta: { role_name: name },
      path: 'auth/approle/login',
    });
    this.persist();
    return ok(null, this.tokenAuth(token));
  }

  // ---- KV ------------------------------------------------------------------------------------

  private kv1(method: string, list: boolean, kv: { mount: Mount; rest: string }, body: Record<string, unknown>): { status: number; body?: unknown } {
    const store = kv.mount.kv1;
    if (list) {
      const keys = childKeys(Object.keys(store), kv.rest);
      if (keys.length === 0) throw notFound();
      return ok({ keys });
    }
    if (method === 'GET') {
      const value = store[kv.rest];
      if (!value) throw notFound();
      return ok(value);
    }
    if (method === 'POST' || method === 'PUT') {
      store[kv.rest] = body;
      this.persist();
      return { status: 204 };
    }
    if (method === 'DELETE') {
      delete store[kv.rest];
      this.persist();
      return { status: 204 };
    }
    throw methodNotAllowed();
  }

  private kv2(
    method: string,
    list: boolean,
    kv: { mount: Mount; op: string; key: string },
    query: URLSearchParams,
    body: Record<string, unknown>,
  ): { status: number; body?: unknown } {
    const { mount, op, key } = kv;
    const store = mount.kv2;
    const entry = store[key];
    const post = method === 'POST' || method === 'PUT';
    const maxVersions = (e: KvEntry): number => e.max_versions || mount.config.max_versions || 10;
    const versionMeta = (e: KvEntry, v: number): Record<string, unknown> => {
      const ver = e.versions[String(v)];
      return {
        created_time: ver?.created_time ?? '',
        custom_metadata: e.custom_metadata,
        deletion_time: ver?.deletion_time ?? '',
        destroyed: ver?.destroyed ?? false,
        version: v,
      };
    };
    if (op === 'config') {
      if (method === 'GET') return ok({ max_versions: mount.config.max_versions, cas_required: mount.config.cas_required, delete_version_after: '0s' });
      if (post) {
        if (body.max_versions !== undefined) mount.config.max_versions = Number(body.max_versions);
        if (body.cas_required !== undefined) mount.config.cas_required = body.cas_required === true;
        this.persist();
        return { status: 204 };
      }
      throw methodNotAllowed();
    }
    if (key === '' && !(op === 'metadata' && list)) throw unsupported(`${op}`);
    switch (op) {
      case 'data': {
        if (method === 'GET') {
          if (!entry || entry.current_version === 0) throw notFound();
          const wanted = query.get('version') ? Number(query.get('version')) : 0;
          const v = wanted > 0 ? wanted : entry.current_version;
          const ver = entry.versions[String(v)];
          if (!ver) throw notFound();
          if (ver.deletion_time !== '' || ver.destroyed) {
            throw new HttpError(404, [], envelope({ data: null, metadata: versionMeta(entry, v) }));
          }
          return ok({ data: ver.data, metadata: versionMeta(entry, v) });
        }
        if (post) {
          const data = body.data;
          if (!data || typeof data !== 'object' || Array.isArray(data)) throw badRequest('no data provided');
          const options = (body.options ?? {}) as Record<string, unknown>;
          const casRequired = mount.config.cas_required || (entry?.cas_required ?? false);
          if (options.cas === undefined && casRequired) throw badRequest('check-and-set parameter required for this call');
          const current = entry?.current_version ?? 0;
          if (options.cas !== undefined && Number(options.cas) !== current) {
            throw badRequest('check-and-set parameter did not match the current version');
          }
          const stamp = now();
          const target: KvEntry = entry ?? {
            versions: {},
            current_version: 0,
            oldest_version: 0,
            created_time: stamp,
            updated_time: stamp,
            max_versions: 0,
            cas_required: false,
            custom_metadata: null,
          };
          const next = target.current_version + 1;
          target.versions[String(next)] = { data: data as Record<string, unknown>, created_time: stamp, deletion_time: '', destroyed: false };
          target.current_version = next;
          target.updated_time = stamp;
          if (target.oldest_version === 0) target.oldest_version = 1;
          const keep = maxVersions(target);
          while (next - target.oldest_version + 1 > keep) {
            delete target.versions[String(target.oldest_version)];
            target.oldest_version += 1;
          }
          store[key] = target;
          this.persist();
          return ok(versionMeta(target, next));
        }
        if (method === 'PATCH') {
          if (!entry || entry.current_version === 0) throw notFound();
          const ver = entry.versions[String(entry.current_version)];
          if (!ver || ver.deletion_time !== '' || ver.destroyed) throw notFound();
          const merged = mergePatch(ver.data ?? {}, (body.data ?? {}) as Record<string, unknown>);
          return this.kv2('POST', false, kv, query, { data: merged, options: { cas: entry.current_version } });
        }
        if (method === 'DELETE') {
          if (entry && entry.current_version > 0) {
            const ver = entry.versions[String(entry.current_version)];
            if (ver && ver.deletion_time === '') ver.deletion_time = now();
            this.persist();
          }
          return { status: 204 };
        }
        throw methodNotAllowed();
      }
      case 'delete':
      case 'undelete':
      case 'destroy': {
        if (!post) throw methodNotAllowed();
        const versions = Array.isArray(body.versions) ? body.versions.map(Number) : [];
        if (versions.length === 0) throw badRequest('no version number provided');
        if (entry) {
          for (const v of versions) {
            const ver = entry.versions[String(v)];
            if (!ver) continue;
            if (op === 'delete' && ver.deletion_time === '') ver.deletion_time = now();
            if (op === 'undelete' && !ver.destroyed) ver.deletion_time = '';
            if (op === 'destroy') {
              ver.destroyed = true;
              ver.data = null;
            }
          }
          this.persist();
        }
        return { status: 204 };
      }
      case 'metadata': {
        if (list) {
          const prefix = key === '' ? '' : `${key.replace(/\/+$/, '')}/`;
          const keys = childKeys(Object.keys(store).filter((k) => (store[k]?.current_version ?? 0) > 0), prefix);
          if (keys.length === 0) throw notFound();
          return ok({ keys });
        }
        if (method === 'GET') {
          if (!entry) throw notFound();
          const versions: Record<string, unknown> = {};
          for (const [v, ver] of Object.entries(entry.versions)) versions[v] = { created_time: ver.created_time, deletion_time: ver.deletion_time, destroyed: ver.destroyed };
          return ok({
            cas_required: entry.cas_required,
            created_time: entry.created_time,
            current_version: entry.current_version,
            custom_metadata: entry.custom_metadata,
            delete_version_after: '0s',
            max_versions: entry.max_versions,
            oldest_version: entry.oldest_version,
            updated_time: entry.updated_time,
            versions,
          });
        }
        if (post || method === 'PATCH') {
          const stamp = now();
          const target: KvEntry = entry ?? {
            versions: {},
            current_version: 0,
            oldest_version: 0,
            created_time: stamp,
            updated_time: stamp,
            max_versions: 0,
            cas_required: false,
            custom_metadata: null,
          };
          if (body.max_versions !== undefined) target.max_versions = Number(body.max_versions);
          if (body.cas_required !== undefined) target.cas_required = body.cas_required === true;
          if (body.custom_metadata !== undefined) target.custom_metadata = body.custom_metadata as Record<string, string>;
          store[key] = target;
          this.persist();
          return { status: 204 };
        }
        if (method === 'DELETE') {
          delete store[key];
          this.persist();
          return { status: 204 };
        }
        throw methodNotAllowed();
      }
      default:
        throw unsupported(`${op}/${key}`);
    }
  }
}

function envelope(data: unknown, auth: unknown = null): Record<string, unknown> {
  return { request_id: randomUUID(), lease_id: '', renewable: false, lease_duration: 0, data, wrap_info: null, warnings: null, auth, mount_type: '' };
}

function ok(data: unknown, auth: unknown = null): { status: number; body: unknown } {
  return { status: 200, body: envelope(data, auth) };
}

/** Immediate children of `prefix` among `paths`: leaves by name, folders with a trailing slash. */
function childKeys(paths: string[], prefix: string): string[] {
  const keys = new Set<string>();
  for (const p of paths) {
    if (!p.startsWith(prefix)) continue;
    const rest = p.slice(prefix.length);
    if (rest === '') continue;
    const slash = rest.indexOf('/');
    keys.add(slash === -1 ? rest : rest.slice(0, slash + 1));
  }
  return [...keys].sort();
}

function mergePatch(target: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  const result = { ...target };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete result[k];
    else result[k] = v;
  }
  return result;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Start an emulator on a free local port. */
export async function startVaultEmulator(options: EmulatorOptions = {}): Promise<{ emulator: VaultEmulator; address: string }> {
  const emulator = new VaultEmulator(options);
  const address = await emulator.listen();
  return { emulator, address };
}
