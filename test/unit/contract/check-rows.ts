import { parse as parseYaml } from 'yaml';
import { KV_MOUNT } from '../../../src/vault/policies.js';
import type { ContractRow } from './contract-doc.js';
import type { RenderView } from './render-view.js';

/**
 * Checks one contract row against one rendered profile. The result is `ok`, a failure that says
 * what was found, or `skip` when the row does not apply to this profile (a host the profile does
 * not run). The caller reports a row that every profile skipped.
 */

export type RowResult = { status: 'ok' } | { status: 'fail'; found: string } | { status: 'skip'; why: string };

export interface CheckContext {
  /** Every profile rendered, to tell a host another profile runs from one nobody runs. */
  allViews: readonly RenderView[];
  /** Vault policy text by service, as msting writes it. */
  vaultPolicy: (service: string) => string | undefined;
}

const ok: RowResult = { status: 'ok' };
const fail = (found: string): RowResult => ({ status: 'fail', found });

const KRATOS_CONFIG = 'compose/config/kratos/kratos.yml';
/** Kratos's own default when kratos.yml names no session cookie. */
export const KRATOS_DEFAULT_COOKIE = 'ory_kratos_session';

function names(list: Iterable<string>): string {
  const all = [...list];
  return all.length === 0 ? '(none)' : all.join(', ');
}

function mentionsPort(text: string, port: number): boolean {
  return new RegExp(`(?<![\\d.])${port}(?!\\d)`).test(text);
}

/** Lines of a config file that say the server listens on `port`. */
function configListens(text: string, port: number): boolean {
  const p = `${port}(?!\\d)`;
  return [
    new RegExp(`\\blisten\\s+(?:[\\w.\\[\\]:]*:)?${p}`),
    new RegExp(`\\b(?:port|http_listen_port|grpc_listen_port|listen_port)"?\\s*[:=]\\s*"?${p}`, 'i'),
    new RegExp(`(?:0\\.0\\.0\\.0|\\[::\\]|127\\.0\\.0\\.1|localhost):${p}`),
  ].some((re) => re.test(text));
}

/** Where the rendered definition of `service` shows it listening on `port`, or undefined. */
export function listenEvidence(view: RenderView, service: string, port: number): string | undefined {
  const s = view.services[service];
  if (!s) return undefined;
  const test = s.healthcheck?.test;
  if (test !== undefined && mentionsPort(Array.isArray(test) ? test.join(' ') : test, port)) return 'health check';
  for (const p of s.ports ?? []) {
    const target = typeof p === 'object' ? Number(p.target) : Number(String(p).split(':').at(-1)?.split('/')[0]);
    if (target === port) return 'published target';
  }
  if ((s.expose ?? []).some((p) => Number(String(p).split('/')[0]) === port)) return 'expose';
  for (const [key, value] of [['command', s.command], ['entrypoint', s.entrypoint]] as const) {
    if (value !== undefined && mentionsPort(Array.isArray(value) ? value.join(' ') : value, port)) return key;
  }
  for (const [name, { value }] of view.env(service)) if (/PORT$/.test(name) && value === String(port)) return `env ${name}`;
  for (const [path, content] of view.configFiles(service)) if (configListens(content, port)) return path;
  return undefined;
}

function checkEnv(row: ContractRow & { expect: { kind: 'env' } }, service: string, view: RenderView): RowResult {
  const env = view.env(service);
  const entry = env.get(row.name);
  if (!entry) return fail(`${row.name} is not in ${service}'s environment (it has: ${names(env.keys())})`);
  const want = row.expect.value;
  if (want.type === 'set') return entry.value === '' ? fail(`${row.name} is empty in ${entry.from}`) : ok;
  if (want.type === 'secret') {
    if (entry.value === '') return fail(`${row.name} is empty in ${entry.from}`);
    if (entry.from === 'compose environment') return fail(`${row.name} is set in the compose file; a secret belongs in the 0600 env file`);
    const file = view.files.get(entry.from);
    if (file && file.mode !== 0o600) return fail(`${row.name} is in ${entry.from}, whose mode is ${file.mode.toString(8)}, not 600`);
    // Compose doubles every `$` of a literal, so look for the value in both spellings.
    if (view.composeText.includes(entry.value) || view.composeText.includes(entry.value.replaceAll('$', '$$$$'))) return fail(`the value of ${row.name} appears in the compose file`);
    return ok;
  }
  return entry.value === want.literal ? ok : fail(`${row.name} is ${JSON.stringify(entry.value)} in ${entry.from}, the contract says ${JSON.stringify(want.literal)}`);
}

function checkMount(row: ContractRow & { expect: { kind: 'mount' } }, service: string, view: RenderView): RowResult {
  const mounts = view.mounts(service);
  const covering = mounts
    .filter((m) => row.name === m.target || row.name.startsWith(`${m.target.replace(/\/$/, '')}/`))
    .sort((a, b) => b.target.length - a.target.length)[0];
  const all = mounts.map((m) => `${m.target} (${m.kind}${m.readOnly ? ', ro' : ''})`);
  if (!covering) return fail(`no volume, bind or tmpfs of ${service} holds ${row.name}; its mounts: ${names(all)}`);
  const at = covering.target === row.name ? '' : ` (mounted at ${covering.target})`;
  switch (row.expect.mode) {
    case 'tmpfs':
      return covering.kind === 'tmpfs' ? ok : fail(`${row.name}${at} is a ${covering.kind}${covering.readOnly ? ', read-only' : ''}, not a tmpfs`);
    case 'ro':
      return covering.readOnly ? ok : fail(`${row.name}${at} is a writable ${covering.kind}, not read-only`);
    case 'rw':
      if (covering.kind === 'tmpfs') return fail(`${row.name}${at} is a tmpfs: writable, but lost on restart; rw means a volume or bind`);
      return covering.readOnly ? fail(`${row.name}${at} is a read-only ${covering.kind}`) : ok;
  }
}

/** Services of `view` that answer to `host` on a network `service` joins. */
function resolveHost(view: RenderView, service: string, host: string): string[] {
  const mine = new Set(view.networks(service));
  return Object.keys(view.services).filter((other) => [...view.namesOn(other)].some(([network, list]) => mine.has(network) && list.includes(host)));
}

function checkHost(row: ContractRow & { expect: { kind: 'host' } }, service: string, view: RenderView, ctx: CheckContext): RowResult {
  const { host, port } = row.expect;
  const local = host === 'localhost' || host === '127.0.0.1';
  const targets = local ? [service] : resolveHost(view, service, host);
  if (targets.length === 0) {
    const owners = Object.keys(view.services).filter((other) => [...view.namesOn(other).values()].some((l) => l.includes(host)));
    if (owners.length > 0) {
      return fail(`${host} is ${owners.join(', ')} on ${names(owners.flatMap((o) => view.networks(o)))}; ${service} joins ${names(view.networks(service))}`);
    }
    const elsewhere = ctx.allViews.filter((v) => Object.keys(v.services).some((other) => [...v.namesOn(other).values()].some((l) => l.includes(host))));
    if (elsewhere.length > 0) return { status: 'skip', why: `${host} runs only in ${elsewhere.map((v) => v.profile).join(', ')}` };
    const mine = new Set(view.networks(service));
    const known = [...new Set(Object.keys(view.services).flatMap((o) => [...view.namesOn(o)].filter(([n]) => mine.has(n)).flatMap(([, l]) => l)))].sort();
    return fail(`no service of any profile answers to ${host}; names on ${service}'s networks: ${names(known)}`);
  }
  const evidence = targets.map((t) => listenEvidence(view, t, port));
  if (evidence.some((e) => e !== undefined)) return ok;
  return fail(`${host} resolves to ${targets.join(', ')}, but nothing rendered for it shows port ${port} (health check, published target, expose, command, *PORT env, listen line of its config)`);
}

function checkCookie(row: ContractRow, view: RenderView): RowResult {
  const text = view.files.get(KRATOS_CONFIG)?.content;
  if (text === undefined) return { status: 'skip', why: 'this profile renders no kratos.yml' };
  const doc = parseYaml(text) as { session?: { cookie?: { name?: string } } } | null;
  const rendered = doc?.session?.cookie?.name ?? KRATOS_DEFAULT_COOKIE;
  return rendered === row.name ? ok : fail(`kratos.yml renders session.cookie.name ${JSON.stringify(rendered)}, the contract says ${JSON.stringify(row.name)}`);
}

const sqlIdent = (name: string) => `(?:"${name}"|\\b${name}\\b)`;

function checkDatabase(row: ContractRow & { expect: { kind: 'database' } }, service: string, view: RenderView): RowResult {
  const { database, role } = row.expect;
  const init = [...view.files].filter(([path]) => path.startsWith('compose/config/db/')).map(([, f]) => f.content).join('\n');
  if (init === '') return fail('no PostgreSQL init script is rendered (compose/config/db/)');
  if (!new RegExp(`CREATE\\s+DATABASE\\s+${sqlIdent(database)}`, 'i').test(init)) return fail(`the rendered init script creates no database ${database}`);
  if (!new RegExp(`CREATE\\s+(?:ROLE|USER)\\s+${sqlIdent(role)}`, 'i').test(init)) return fail(`the rendered init script creates no role ${role}`);
  if (service === 'db') return ok;
  const urls = [...view.env(service)].filter(([, { value }]) => /^postgres(?:ql)?(?:\+\w+)?:\/\//.test(value));
  if (urls.length === 0) return fail(`${service} has no PostgreSQL URL in its environment (DATABASE_URL or a DSN)`);
  const seen: string[] = [];
  for (const [name, { value }] of urls) {
    const url = new URL(value.replace(/^[^:]+:/, 'postgres:'));
    const user = decodeURIComponent(url.username);
    const db = decodeURIComponent(url.pathname.replace(/^\//, ''));
    if (user === role && db === database) return ok;
    seen.push(`${name} connects to ${db || '(no database)'} as ${user || '(no user)'}`);
  }
  return fail(seen.join('; '));
}

interface PolicyRule {
  path: string;
  capabilities: string[];
}

export function parsePolicy(hcl: string): PolicyRule[] {
  const rules: PolicyRule[] = [];
  for (const m of hcl.matchAll(/path\s+"([^"]+)"\s*\{([^}]*)\}/g)) {
    const caps = /capabilities\s*=\s*\[([^\]]*)\]/.exec(m[2]!);
    rules.push({ path: m[1]!, capabilities: caps ? [...caps[1]!.matchAll(/"([^"]+)"/g)].map((c) => c[1]!) : [] });
  }
  return rules;
}

/** Vault's policy path syntax: `+` is one path segment, a trailing `*` any suffix. */
function policyPathMatches(pattern: string, path: string): boolean {
  const glob = pattern.endsWith('*');
  const body = (glob ? pattern.slice(0, -1) : pattern)
    .split('/')
    .map((seg) => (seg === '+' ? '[^/]+' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${body}${glob ? '.*' : ''}$`).test(path);
}

/** The rule Vault applies to `path`: an exact match, else the matching glob with the longest prefix. */
export function governingRule(rules: readonly PolicyRule[], path: string): PolicyRule | undefined {
  const matching = rules.filter((r) => policyPathMatches(r.path, path));
  return matching.find((r) => !r.path.endsWith('*')) ?? matching.sort((a, b) => b.path.length - a.path.length)[0];
}

/**
 * The Vault API path of a contract row: a system path (`sys/...`, outside every KV mount) and a KV
 * v2 API path (`<mount>/data/...`, `<mount>/metadata/...`) as written, else a path inside msting's
 * KV mount.
 */
export function vaultApiPath(name: string): string {
  const segments = name.split('/');
  if (segments[0] === 'sys' && segments.length > 1) return name;
  if (segments[1] === 'data' || segments[1] === 'metadata') return name;
  return `${KV_MOUNT}/data/${name}`;
}

function checkVault(row: ContractRow & { expect: { kind: 'vault' } }, service: string, ctx: CheckContext): RowResult {
  const policy = ctx.vaultPolicy(service);
  if (policy === undefined) return fail(`msting writes no Vault policy for ${service}`);
  const rules = parsePolicy(policy);
  const api = vaultApiPath(row.name);
  // A row ending in `*` stands for every path below it; probe one.
  const probe = api.endsWith('*') ? `${api.slice(0, -1)}probe-a/probe-b` : api.replaceAll('+', 'probe');
  const rule = governingRule(rules, probe);
  const allowed = rules.map((r) => `${r.path} [${r.capabilities.join(', ')}]`);
  if (!rule) return fail(`no path of ${service}'s policy matches ${api}; it has: ${names(allowed)}`);
  const missing = row.expect.capabilities.filter((c) => !rule.capabilities.includes(c));
  return missing.length === 0 ? ok : fail(`${api} falls under "${rule.path}", which grants ${names(rule.capabilities)}, not ${missing.join(', ')}`);
}

export function checkRow(row: ContractRow, service: string, view: RenderView, ctx: CheckContext): RowResult {
  switch (row.expect.kind) {
    case 'env':
      return checkEnv(row as ContractRow & { expect: typeof row.expect }, service, view);
    case 'not-rendered': {
      const entry = view.env(service).get(row.name);
      return entry ? fail(`${row.name} is rendered (${entry.from}); the contract says it is left out: ${row.expect.reason}`) : ok;
    }
    case 'mount':
      return checkMount(row as ContractRow & { expect: typeof row.expect }, service, view);
    case 'host':
      return checkHost(row as ContractRow & { expect: typeof row.expect }, service, view, ctx);
    case 'listen': {
      const port = row.expect.port;
      return listenEvidence(view, service, port) ? ok : fail(`nothing rendered for ${service} shows port ${port} (health check, published target, expose, command, *PORT env, listen line of its config)`);
    }
    case 'cookie':
      return checkCookie(row, view);
    case 'database':
      return checkDatabase(row as ContractRow & { expect: typeof row.expect }, service, view);
    case 'vault':
      return checkVault(row as ContractRow & { expect: typeof row.expect }, service, ctx);
  }
}
