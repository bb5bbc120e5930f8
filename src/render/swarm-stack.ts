import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { DATA_SERVICES } from '../stack/networks.js';
import { RENDER_PATHS, TLS_FILES, envFilePath, memoryLimit, type MountPlan, type ServicePlan, type StackPlan } from '../stack/plan.js';
import { LOG_LABELS } from './compose.js';
import { escapeComposeInterpolation, toYaml } from './yaml.js';

/**
 * The Swarm stack file (`docker stack deploy -c FILE`) for a stack plan: the same services,
 * networks and volumes as the compose file, in the terms Swarm understands. Pure: plan, rendered
 * files and what the swarm advertises in, document and the Swarm objects it names out.
 *
 * What differs from the compose file, and why:
 * - Networks are overlays (the data and models networks internal), attachable so a one-off
 *   container can join them.
 * - No value from an env file or a secret file is in the stack file or in a service's
 *   environment: each env file becomes one Swarm secret (`/run/secrets/msting.env`, read only by
 *   the service's own process, which sources it before it runs the image's program), the host's
 *   Vault token files and the TLS key become Swarm secrets, and the rendered config files (and the
 *   TLS certificate) Swarm configs. Secrets and configs are immutable in Swarm, so each name ends
 *   in a hash of its content: a changed value is a new object, and the service update rolls.
 * - Placement: model services only on nodes labelled `sting.gpu=true`, asking for a GPU as a
 *   generic resource when those nodes advertise one; services that keep data on a volume (and
 *   the log readers) on the manager, where their volumes live and `backup` reads them.
 * - `depends_on` and profiles do not exist in Swarm: the file holds only the profile's services,
 *   and msting deploys it in dependency order (see src/swarm/deploy.ts).
 * - The frontend is published through the routing mesh (every node answers on its port); other
 *   published ports use host mode on the node running the service (Swarm cannot bind one address).
 */

export const SWARM_STACK_FILE = 'compose/swarm-stack.yml';
/**
 * The operator's own changes, merged into the stack file for the services being deployed (maps
 * merged key by key, lists and values replaced). msting keeps it and never writes it. A file of
 * its own: the compose override may hold what only Compose understands.
 */
export const SWARM_OVERRIDE_FILE = 'compose/swarm-stack.override.yml';

/** The label a node carries to run the model services (`msting swarm label NODE --gpu`). */
export const GPU_NODE_LABEL = 'sting.gpu';
export const GPU_CONSTRAINT = `node.labels.${GPU_NODE_LABEL}==true`;
export const MANAGER_CONSTRAINT = 'node.role==manager';

/** Where a service finds its env file, and the file name its process sources. */
export const ENV_SECRET_TARGET = 'msting.env';
const ENV_SECRET_PATH = `/run/secrets/${ENV_SECRET_TARGET}`;
/** The shell step in front of a service's own program: export the env file's variables, then exec. */
const SOURCE_ENV = `set -a; . ${ENV_SECRET_PATH}; set +a; exec "$@"`;

/** Labels on every service and task, so status and logs find the stack's own. */
export const SWARM_LABELS = { service: 'org.sting-ce.msting.service', group: 'org.sting-ce.msting.group' } as const;

export interface ImageProcess {
  entrypoint: string[];
  cmd: string[];
}

/** A Swarm secret or config the stack file names (external) and msting creates before deploying. */
export interface SwarmObject {
  kind: 'secret' | 'config';
  /** Name in the swarm: `<project>_<what>_<hash>`; a new content is a new name. */
  name: string;
  /** Install-relative file whose content it holds. */
  source: string;
  /** Services using it. */
  services: string[];
}

export interface SwarmRenderInput {
  plan: StackPlan;
  /** Absolute install directory: bind mounts that stay bind mounts are written absolute. */
  home: string;
  /** Install-relative paths of every rendered file (a config folder mount becomes one config per file in it). */
  rendered: readonly string[];
  /** Services that have an env file (`env/<service>.env`). */
  envFiles: ReadonlySet<string>;
  /**
   * Content of an install-relative file: the rendered files, the host-held Vault token files and
   * the TLS files. Only hashed: the content never reaches the document.
   */
  contentOf(path: string): string | undefined;
  /** An image's own entrypoint and command (from the engine), for services that source their env file. */
  imageProcess(image: string): ImageProcess | undefined;
  /** Generic resource kind the GPU-labelled nodes advertise (such as `NVIDIA-GPU`); null: none. */
  gpuResource: string | null;
  /** config `swarm.routing_mesh`: virtual IPs and the routing mesh; false: DNS round robin and host-mode ports. */
  routingMesh: boolean;
  /** The parsed SWARM_OVERRIDE_FILE, or null when there is none. */
  override?: Record<string, unknown> | null;
  /** Services to include (those deployed so far); default: all of the plan. */
  services?: ReadonlySet<string>;
}

export interface SwarmStack {
  document: Record<string, unknown>;
  objects: SwarmObject[];
  /** Things the operator should know (a port Swarm cannot keep on one address, ...). */
  warnings: string[];
}

export class SwarmRenderError extends Error {
  constructor(
    message: string,
    readonly missing: string[],
  ) {
    super(message);
  }
}

function contentHash(content: string): string {
  return createHash('sha256').update(content).digest('hex').slice(0, 12);
}

/** A Swarm object name: letters, digits, `_`, `-`, `.`; at most 64 characters. */
function objectName(project: string, what: string, content: string): string {
  const clean = (text: string, max: number) => text.replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, max);
  return `${clean(project, 24)}_${clean(what, 26)}_${contentHash(content)}`;
}

/** The stack's key for an object: stable across contents, so a service names the same key. */
function objectKey(kind: 'secret' | 'config', source: string): string {
  return `${kind === 'secret' ? 's' : 'c'}_${source.replace(/[^A-Za-z0-9]+/g, '_').replace(/^_+|_+$/g, '')}`;
}

/** Services whose data lives on a named volume of the manager, or that read the manager's files. */
export function pinnedToManager(s: ServicePlan): boolean {
  return DATA_SERVICES.has(s.name) || s.mounts.some((m) => m.type === 'volume' || (m.type === 'bind' && (m.source === 'logs' || m.source.startsWith('/var/lib/docker'))));
}

interface FileUse {
  kind: 'secret' | 'config';
  source: string;
  target: string;
}

/** What a mount becomes: Swarm configs and secrets for msting's own files, else itself. */
function mountUses(m: MountPlan, files: readonly string[]): FileUse[] | null {
  if (m.type !== 'bind') return null;
  if (m.source.startsWith(`${RENDER_PATHS.serviceConfigDir}/`)) {
    if (files.includes(m.source)) return [{ kind: 'config', source: m.source, target: m.target }];
    const prefix = `${m.source}/`;
    return files.filter((f) => f.startsWith(prefix)).map((f) => ({ kind: 'config', source: f, target: posix.join(m.target, f.slice(prefix.length)) }));
  }
  if (m.source === RENDER_PATHS.certsDir) {
    return [
      { kind: 'config' as const, source: TLS_FILES.cert, target: posix.join(m.target, posix.basename(TLS_FILES.cert)) },
      { kind: 'secret' as const, source: TLS_FILES.key, target: posix.join(m.target, posix.basename(TLS_FILES.key)) },
    ];
  }
  return null;
}

function serviceUser(s: ServicePlan): { uid: string; gid: string } | null {
  const m = s.user === null ? null : /^(\d+)(?::(\d+))?$/.exec(s.user);
  return m ? { uid: m[1]!, gid: m[2] ?? m[1]! } : null;
}

/**
 * The stack document for a plan (or the part of it deployed so far) and the secrets and configs it names.
 * Throws SwarmRenderError when a file a service needs has no content (TLS files not set up, a
 * Vault token not issued yet) or an image's own command is unknown.
 */
export function buildSwarmStack(input: SwarmRenderInput): SwarmStack {
  const { plan } = input;
  const chosen = plan.services.filter((s) => input.services === undefined || input.services.has(s.name));
  const objects = new Map<string, SwarmObject>();
  const missing: string[] = [];
  const warnings: string[] = [];

  const use = (service: string, kind: 'secret' | 'config', source: string): string | null => {
    const content = input.contentOf(source);
    if (content === undefined) {
      missing.push(`${source} (for ${service})`);
      return null;
    }
    const key = objectKey(kind, source);
    const existing = objects.get(key);
    if (existing) existing.services.push(service);
    else objects.set(key, { kind, name: objectName(plan.project, source.replace(/^(env|compose\/config|secrets|certs)\//, ''), content), source, services: [service] });
    return key;
  };

  const services = Object.fromEntries(
    chosen.map((s) => {
      const secrets: Record<string, unknown>[] = [];
      const configs: Record<string, unknown>[] = [];
      const volumes: Record<string, unknown>[] = [];
      const owner = serviceUser(s);
      const fileMode = (secret: boolean) => ({ ...(owner ?? {}), mode: secret && owner !== null ? 0o400 : 0o444 });
      for (const m of s.mounts) {
        const uses = mountUses(m, input.rendered);
        if (uses === null) {
          const source = m.type === 'bind' && !posix.isAbsolute(m.source) ? posix.join(input.home, m.source) : m.source;
          volumes.push({ type: m.type, source, target: m.target, ...(m.readOnly ? { read_only: true } : {}) });
          continue;
        }
        for (const u of uses) {
          const key = use(s.name, u.kind, u.source);
          if (key === null) continue;
          (u.kind === 'secret' ? secrets : configs).push({ source: key, target: u.target, ...fileMode(u.kind === 'secret') });
        }
      }
      for (const target of s.tmpfs) volumes.push({ type: 'tmpfs', target });
      if (s.vaultTokenFile) {
        const key = use(s.name, 'secret', s.vaultTokenFile);
        if (key !== null) secrets.push({ source: key, target: 'vault-token', ...fileMode(true) });
      }

      const out: Record<string, unknown> = {
        image: s.image,
        networks: Object.fromEntries(s.networks.map((n) => [n, { aliases: s.aliases[n] ?? [] }])),
        logging: { driver: 'json-file', options: { labels: LOG_LABELS.join(','), 'max-size': '10m', 'max-file': '3' } },
        cap_drop: ['ALL'],
        stop_grace_period: `${s.stopGracePeriodS}s`,
        labels: { [SWARM_LABELS.service]: s.name, [SWARM_LABELS.group]: s.group },
      };
      if (s.capAdd.length > 0) out.cap_add = s.capAdd;
      if (s.user) out.user = s.user;
      if (s.readOnlyRootFs) out.read_only = true;
      if (s.group === 'model') out.init = true;

      let entrypoint = s.entrypoint;
      let command = s.command;
      let health = s.health?.test ?? null;
      if (input.envFiles.has(s.name)) {
        const key = use(s.name, 'secret', envFilePath(s.name));
        if (key !== null) secrets.push({ source: key, target: ENV_SECRET_TARGET, ...fileMode(true) });
        // The image's program runs after the env file is sourced; compose semantics: a set
        // entrypoint drops the image's command.
        const own = entrypoint === null ? input.imageProcess(s.image) : { entrypoint, cmd: [] };
        if (own === undefined) missing.push(`the entrypoint and command of image ${s.image} (for ${s.name}): pull it on this node`);
        else {
          const program = [...own.entrypoint, ...(command ?? (entrypoint === null ? own.cmd : []))];
          entrypoint = ['/bin/sh', '-c', SOURCE_ENV, 'msting-env'];
          command = program;
        }
        if (health !== null) {
          health = health[0] === 'CMD-SHELL' ? ['CMD-SHELL', `set -a; . ${ENV_SECRET_PATH}; set +a; ${health[1]}`] : ['CMD', '/bin/sh', '-c', SOURCE_ENV, 'msting-env', ...health.slice(1)];
        }
      }
      if (entrypoint) out.entrypoint = entrypoint;
      if (command) out.command = command;
      out.healthcheck = s.health
        ? { test: health, interval: `${s.health.intervalS}s`, timeout: `${s.health.timeoutS}s`, start_period: `${s.health.startPeriodS}s`, retries: s.health.retries }
        : { disable: true };
      if (secrets.length > 0) out.secrets = secrets;
      if (configs.length > 0) out.configs = configs;
      if (volumes.length > 0) out.volumes = volumes;

      const ports = s.ports.map((p) => {
        const viaMesh = input.routingMesh && (p.hostIp === '0.0.0.0' || s.name === 'frontend');
        if (!viaMesh && s.name !== 'frontend') {
          warnings.push(`ports.${p.key}: Swarm cannot publish on ${p.hostIp} alone; ${s.name} is published on port ${p.published} of every address of the node it runs on (firewall it there)`);
        }
        return { target: p.target, published: p.published, protocol: p.protocol, mode: viaMesh ? 'ingress' : 'host' };
      });
      if (ports.length > 0) out.ports = ports;

      const constraints: string[] = [];
      if (s.group === 'model') constraints.push(GPU_CONSTRAINT);
      else if (pinnedToManager(s)) constraints.push(MANAGER_CONSTRAINT);
      const reservations: Record<string, unknown> = {};
      if (s.group === 'model') {
        // The scheduler places a model only where its memory fits.
        reservations.memory = memoryLimit(s);
        if (input.gpuResource !== null) reservations.generic_resources = [{ discrete_resource_spec: { kind: input.gpuResource, value: 1 } }];
      }
      // One task at a time; a service holding a volume or a host port stops its old task first.
      const order = pinnedToManager(s) || ports.some((p) => p.mode === 'host') ? 'stop-first' : 'start-first';
      const monitorS = s.health ? Math.min(s.health.startPeriodS + s.health.intervalS * s.health.retries, 600) : 10;
      out.deploy = {
        mode: 'replicated',
        replicas: 1,
        endpoint_mode: input.routingMesh ? 'vip' : 'dnsrr',
        labels: { [SWARM_LABELS.service]: s.name, [SWARM_LABELS.group]: s.group },
        resources: {
          limits: { memory: memoryLimit(s), ...(s.cpus !== null ? { cpus: String(s.cpus) } : {}) },
          ...(Object.keys(reservations).length > 0 ? { reservations } : {}),
        },
        restart_policy: s.restart === 'no' ? { condition: 'none' } : { condition: 'any', delay: '5s' },
        update_config: { parallelism: 1, order, failure_action: 'rollback', monitor: `${monitorS}s` },
        rollback_config: { parallelism: 1, order, failure_action: 'pause' },
        ...(constraints.length > 0 ? { placement: { constraints } } : {}),
      };
      return [s.name, out];
    }),
  );
  if (missing.length > 0) throw new SwarmRenderError(`the Swarm stack needs ${missing.length === 1 ? 'a file' : 'files'} msting does not have: ${missing.join('; ')}`, missing);

  const used = new Set(chosen.flatMap((s) => s.networks));
  const networks = Object.fromEntries(
    plan.networks
      .filter((n) => used.has(n.name))
      .map((n) => {
        const network: Record<string, unknown> = { driver: 'overlay', attachable: true };
        if (n.internal) network.internal = true;
        if (n.subnet) network.ipam = { config: [{ subnet: n.subnet }] };
        network.labels = { 'org.sting-ce.msting.network': n.description };
        return [n.name, network];
      }),
  );
  const volumeNames = new Set(chosen.flatMap((s) => s.mounts.filter((m) => m.type === 'volume').map((m) => m.source)));
  const list = [...objects.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const external = (kind: 'secret' | 'config') => Object.fromEntries(list.filter(([, o]) => o.kind === kind).map(([key, o]) => [key, { external: true, name: o.name }]));
  const document: Record<string, unknown> = {
    version: '3.8',
    services,
    networks,
    volumes: Object.fromEntries(plan.volumes.filter((v) => volumeNames.has(v.name)).map((v) => [v.name, { labels: { 'org.sting-ce.msting.volume': v.description } }])),
  };
  if (list.some(([, o]) => o.kind === 'secret')) document.secrets = external('secret');
  if (list.some(([, o]) => o.kind === 'config')) document.configs = external('config');
  const escaped = escapeComposeInterpolation(document);
  if (input.override) applyOverride(escaped, input.override);
  return { document: escaped, objects: list.map(([, o]) => o), warnings: [...new Set(warnings)] };
}

function isMap(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function deepMerge(target: Record<string, unknown>, change: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(change)) {
    const current = target[key];
    if (isMap(current) && isMap(value)) deepMerge(current, value);
    else target[key] = value;
  }
}

/** The override's entries for what the document holds: a wave never gains a service from it. */
function applyOverride(document: Record<string, unknown>, override: Record<string, unknown>): void {
  for (const [section, entries] of Object.entries(override)) {
    const existing = document[section];
    if (!isMap(existing) || !isMap(entries)) continue;
    for (const [name, change] of Object.entries(entries)) {
      const current = existing[name];
      if (isMap(current) && isMap(change)) deepMerge(current, change);
    }
  }
}

export function renderSwarmStackFile(stack: SwarmStack): string {
  return '# Rendered by msting from config.yml for `docker stack deploy`; edits here are replaced on the next deploy.\n' + toYaml(stack.document);
}
