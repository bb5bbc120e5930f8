import { MstingError } from '../errors.js';

/**
 * The stack's segmented networks, decided in one place from who calls whom.
 *
 *   edge    the frontend and the services it proxies to. The only network the frontend joins.
 *   app     the application tier: every service but the frontend, the data stores and the models.
 *   data    internal (no route out): the data stores (db, redis, chroma, vault) and their clients.
 *           Redis runs without a password because STING-CE's clients connect without one; it is
 *           on this network alone and never published, so only its clients can open it.
 *   models  internal: the model services and the LLM gateway, the only service that calls them.
 *   ports   a network nothing talks over: a data store whose port config.yml publishes joins it,
 *           because Docker forwards a published port only through a network with a route to the
 *           host, and an internal one has none. No other service joins it.
 *
 * Every service is reachable on each of its networks under its service name and under the name
 * STING-CE's own compose file gives its container (`sting-ce-<service>`), which STING-CE's code
 * and documentation also use.
 *
 * Kratos serves its public API (which the frontend proxies) and its admin API (no
 * authentication: it mints recovery codes) from one container on edge and app. Its admin API
 * listens on KRATOS_ADMIN_HOST, a name Kratos has on the app network alone: Kratos resolves it
 * when it starts and binds that one address, so the edge network, the frontend's, cannot open
 * it (docs/security.md, Networks).
 */

export type NetworkKey = 'edge' | 'app' | 'data' | 'models' | 'ports';

export interface NetworkPlan {
  /** The compose network key (compose prefixes the project name: `sting-ce_data`). */
  name: NetworkKey;
  /** No route in or out of the host: members reach only each other. */
  internal: boolean;
  subnet: string | null;
  description: string;
}

export const NETWORK_DESCRIPTIONS: Record<NetworkKey, string> = {
  edge: 'the frontend and the services it proxies to',
  app: 'the application services',
  data: 'the data stores (PostgreSQL, Redis, Chroma, Vault) and their clients; internal',
  models: 'the model services and the LLM gateway; internal',
  ports: 'carries the published ports of data stores; nothing talks over it',
};

const ORDER: NetworkKey[] = ['edge', 'app', 'data', 'models', 'ports'];

/** Services that hold data: on the internal data network, reached only by their clients. */
export const DATA_SERVICES: ReadonlySet<string> = new Set(['db', 'redis', 'chroma', 'vault']);

/**
 * Calls a service makes at run time that its start dependencies do not show (it starts without
 * them, or reaches them through a URL in its env file). Start dependencies and Vault tokens are
 * calls too; see `serviceCalls`.
 */
export const RUNTIME_CALLS: Readonly<Record<string, readonly string[]>> = {
  // STING-CE's frontend nginx proxies /mailpit/ to Mailpit's UI (frontend/nginx.https.conf).
  frontend: ['mailpit'],
  // chatbot/core/database_manager.py (DATABASE_URL), chatbot/bee_server.py (redis://redis:6379).
  chatbot: ['db', 'redis', 'knowledge', 'external-ai'],
  // external_ai_service/app.py: redis://redis:6379.
  'external-ai': ['redis', 'knowledge'],
  app: ['external-ai', 'chatbot', 'knowledge', 'messaging', 'llm-gateway', 'mailpit'],
  knowledge: ['kratos'],
};

/**
 * The name Kratos's admin API binds (kratos.yml `serve.admin.host`): an alias of Kratos on the
 * app network only, where every caller of the admin API is and the frontend is not.
 */
export const KRATOS_ADMIN_HOST = 'kratos-admin';

/** Names a service has on one network alone, beside its service and STING-CE names. */
const NETWORK_ONLY_ALIASES: Readonly<Record<string, Partial<Record<NetworkKey, readonly string[]>>>> = {
  kratos: { app: [KRATOS_ADMIN_HOST] },
};

/** The further names `service` answers to on each network it joins. */
export function serviceAliases(service: string, networks: readonly NetworkKey[]): Partial<Record<NetworkKey, string[]>> {
  return Object.fromEntries(networks.map((n) => [n, [stingCeName(service), ...(NETWORK_ONLY_ALIASES[service]?.[n] ?? [])]]));
}

/** What the network planner needs of a service. */
export interface NetworkMember {
  name: string;
  group: string;
  dependsOn: readonly { service: string }[];
  vaultTokenFile: string | null;
  ports: readonly unknown[];
}

/** The services `service` calls, of those in the plan. */
export function serviceCalls(service: NetworkMember, present: ReadonlySet<string>): string[] {
  const calls = new Set([...service.dependsOn.map((d) => d.service), ...(RUNTIME_CALLS[service.name] ?? [])]);
  if (service.vaultTokenFile !== null) calls.add('vault');
  return [...calls].filter((c) => c !== service.name && present.has(c)).sort();
}

/** The networks each service joins, and the networks the stack needs. */
export function planNetworks(services: readonly NetworkMember[], subnet: string | null): { members: Map<string, NetworkKey[]>; networks: NetworkPlan[] } {
  const present = new Set(services.map((s) => s.name));
  const frontend = services.find((s) => s.name === 'frontend');
  const edge = new Set(frontend ? ['frontend', ...serviceCalls(frontend, present)] : []);
  const members = new Map<string, NetworkKey[]>();
  for (const s of services) {
    const joined = new Set<NetworkKey>();
    const isData = DATA_SERVICES.has(s.name);
    const isModel = s.group === 'model';
    if (edge.has(s.name) && !isData && !isModel) joined.add('edge');
    if (s.name !== 'frontend' && !isData && !isModel) joined.add('app');
    if (isData || serviceCalls(s, present).some((c) => DATA_SERVICES.has(c))) joined.add('data');
    if (isModel || s.name === 'llm-gateway') joined.add('models');
    if (s.ports.length > 0 && [...joined].every((n) => n === 'data' || n === 'models')) joined.add('ports');
    members.set(
      s.name,
      ORDER.filter((n) => joined.has(n)),
    );
  }
  const used = ORDER.filter((n) => [...members.values()].some((m) => m.includes(n)));
  // A network's part of the subnet depends on its name alone, so switching profiles never
  // changes the subnet of a network that already exists.
  const subnets = subnet === null ? null : splitSubnet(subnet, SUBNET_PARTS);
  return {
    members,
    networks: used.map((name) => ({
      name,
      internal: name === 'data' || name === 'models',
      subnet: subnets?.[ORDER.indexOf(name)] ?? null,
      description: NETWORK_DESCRIPTIONS[name],
    })),
  };
}

/** Equal parts `network.subnet` is cut into: one per network in ORDER, with room for more. */
const SUBNET_PARTS = 8;

/**
 * `network.subnet` from config.yml covers all of the stack's networks: it is cut into equal
 * parts (a /16 into eight /19), the first for edge, then app, data, models, ports.
 */
export function splitSubnet(cidr: string, parts: number): string[] {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  const octets = m ? m.slice(1, 5).map(Number) : [];
  const prefix = m ? Number(m[5]) : NaN;
  const bits = Math.ceil(Math.log2(Math.max(1, parts)));
  if (!m || octets.some((o) => o > 255) || prefix > 28 - bits || prefix < 8) {
    throw new MstingError('CONFIG_INVALID', `network.subnet: "${cidr}" must be an IPv4 network such as 172.30.0.0/16, no smaller than /${28 - bits}`, {
      hint: `msting cuts it into ${parts} equal parts, one per network (edge, app, data, models, ports)`,
    });
  }
  const base = (((octets[0]! << 24) | (octets[1]! << 16) | (octets[2]! << 8) | octets[3]!) >>> 0) & (prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0);
  const childPrefix = prefix + bits;
  const size = 2 ** (32 - childPrefix);
  return Array.from({ length: parts }, (_, i) => {
    const n = (base + i * size) >>> 0;
    return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}/${childPrefix}`;
  });
}

/** The name STING-CE's own compose file gives a service's container (`sting-ce-<service>`). */
export function stingCeName(service: string): string {
  return `sting-ce-${service}`;
}

/** The project name STING-CE itself uses; container names are fixed only under it (see compose.ts). */
export const STING_CE_PROJECT = 'sting-ce';
