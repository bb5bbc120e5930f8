import { compareText } from '../compare.js';
import type { MstingConfig, ModelConfig } from '../config/schema.js';
import type { Device, Precision, Recommendation } from '../hardware/types.js';
import { layersOf, stackGraph } from '../lifecycle/graph.js';
import type { PortKey } from './names.js';
import { MODEL_SERVICE_PORT } from '../gateway/naming.js';
import { repoFolderName } from '../models/cache-layout.js';
import { COMPOSE_CONDITION, resolveEntry, type ResolvedEntry } from './catalogue/conditions.js';
import { CATALOGUE } from './catalogue/data.js';
import type { CatalogueMount, CommandPlaceholder } from './catalogue/schema.js';
import { STING_CE_PROJECT, planNetworks, serviceAliases, stingCeName, type NetworkKey, type NetworkPlan } from './networks.js';
import { enabledModels, knownProfiles, modelServices, resolveProfileServices } from './profiles.js';
import { SECRET_SPECS, VAULT_CLIENT_SERVICES } from './secrets.js';
import { formatPgMemory, formatSize, parseMemory } from './units.js';

// Profile resolution lives in profiles.ts; callers reach it through the plan module, as before.
export { enabledModels, knownProfiles, modelServices, resolveProfileServices };

/** Kratos's config folder and the folder it reads the TLS certificate from, inside its container. */
export const KRATOS_CONFIG_DIR = '/etc/config/kratos';
export const KRATOS_CERTS_DIR = '/etc/certs';

/**
 * The stack as data: which services a profile runs, with image, ports, dependencies, health
 * check, mounts, secrets and limits. Pure: config + recommendation + profile in, plan out.
 * Each fixed service is its catalogue file (compose/<service>.yml) filled in for the config; the
 * model services are drafted here. The compose renderer turns a plan into YAML; `start`,
 * `status` and `backup` read the same plan.
 */

export type ServiceGroup = 'core' | 'observability' | 'llm' | 'model';
export type DependencyCondition = 'service_healthy' | 'service_completed_successfully' | 'service_started';

export interface PortPlan {
  /** The `ports.<key>` entry of config.yml this port comes from. */
  key: PortKey;
  hostIp: string;
  published: number;
  target: number;
  protocol: 'tcp';
}

export interface HealthPlan {
  test: string[];
  intervalS: number;
  timeoutS: number;
  startPeriodS: number;
  retries: number;
}

export type MountPlan =
  | { type: 'volume'; source: string; target: string; readOnly: boolean }
  /** `source` is relative to the install directory (posix separators), or absolute. */
  | { type: 'bind'; source: string; target: string; readOnly: boolean };

export interface ModelPlan {
  name: string;
  repo: string;
  revision: string;
  device: Device;
  precision: Precision;
  quantization: 'none' | 'int8' | 'int4';
  fits: boolean;
  /** The commit the revision resolved to in the models directory; null when not downloaded. */
  commit: string | null;
  /**
   * What the model service reads as MODEL_PATH: the snapshot directory inside the container
   * (`/models/models--ORG--NAME/snapshots/<commit>`) when the commit is known, else the
   * repository id, which the service's Hugging Face library resolves offline through
   * HF_HUB_CACHE (`/models`) and `refs/main`.
   */
  path: string;
}

export interface ServicePlan {
  name: string;
  group: ServiceGroup;
  image: string;
  /** Compose profiles this service belongs to; empty: in every profile (always started). */
  profiles: string[];
  ports: PortPlan[];
  /** Container ports the service listens on that config.yml does not publish (compose `expose`). */
  expose: number[];
  dependsOn: { service: string; condition: DependencyCondition }[];
  /** null: a one-shot job, waited on by completion rather than health. */
  health: HealthPlan | null;
  mounts: MountPlan[];
  /** Ids from SECRET_SPECS that this service's env file carries. */
  secrets: string[];
  /**
   * The service reads Vault itself: its own token file (install-relative, mode 0600, written by
   * `vault init`) is mounted at /run/secrets/vault-token as a compose secret. null otherwise.
   */
  vaultTokenFile: string | null;
  /** Rendered config files this service mounts, relative to the install directory. */
  configFiles: string[];
  command: string[] | null;
  entrypoint: string[] | null;
  user: string | null;
  readOnlyRootFs: boolean;
  capAdd: string[];
  tmpfs: string[];
  /** Memory limit in bytes. */
  memoryBytes: number;
  /** Most processes and threads the container may hold (compose `pids_limit`). */
  pidsLimit: number;
  cpus: number | null;
  restart: 'unless-stopped' | 'no';
  stopGracePeriodS: number;
  gpu: Recommendation['gpuReservation'];
  model: ModelPlan | null;
  /** Networks the service joins (src/stack/networks.ts decides). */
  networks: NetworkKey[];
  /**
   * Further names the service answers to, per network it joins: STING-CE's container name on
   * every one, and Kratos's admin name on the app network alone (src/stack/networks.ts).
   */
  aliases: Partial<Record<NetworkKey, string[]>>;
  /**
   * A fixed container name (STING-CE's `sting-ce-<service>`), only under the project name
   * STING-CE uses: another project on the same host keeps compose's own names, so two installs
   * never fight over one name. null: compose names it.
   */
  containerName: string | null;
}

export interface VolumePlan {
  name: string;
  description: string;
  /** Services that mount it; the first one owns the data. */
  services: string[];
}

export interface StackPlan {
  project: string;
  profile: string;
  /** Services in the profile, sorted by name. */
  services: ServicePlan[];
  /** Start order: each layer depends only on earlier layers. */
  layers: string[][];
  volumes: VolumePlan[];
  /** The segmented networks (src/stack/networks.ts). */
  networks: NetworkPlan[];
  /** Things the operator should know (a model that does not fit, ...). */
  warnings: string[];
}

/** Where rendered files live, relative to the install directory. */
export const RENDER_PATHS = {
  composeFile: 'compose/docker-compose.yml',
  composeOverrideFile: 'compose/docker-compose.override.yml',
  serviceConfigDir: 'compose/config',
  envDir: 'env',
  certsDir: 'certs',
} as const;

export function envFilePath(service: string): string {
  return `${RENDER_PATHS.envDir}/${service}.env`;
}

export function serviceConfigPath(service: string, file: string): string {
  return `${RENDER_PATHS.serviceConfigDir}/${service}/${file}`;
}

/** TLS certificate and key the frontend serves, under the install directory. */
export const TLS_FILES = { cert: 'certs/server.crt', key: 'certs/server.key' } as const;

/** The port a model service listens on (STING-CE's llm_service reads it from PORT). */
export const MODEL_CONTAINER_PORT = MODEL_SERVICE_PORT;
/** Where the models directory (a Hugging Face cache) is mounted in a model service. */
export const MODELS_MOUNT = '/models';

/** The snapshot directory of a model's commit inside a model service. */
export function modelSnapshotPath(repo: string, commit: string): string {
  return `${MODELS_MOUNT}/${repoFolderName(repo)}/snapshots/${commit}`;
}

/** Where the log forwarder reads msting's own operation log (the install's logs/ folder). */
export const MSTING_LOGS_MOUNT = '/var/log/msting';

/** Grafana provisioning files msting renders, relative to grafana's config folder. */
export const GRAFANA_DASHBOARDS = ['sting-logs', 'sting-errors', 'sting-auth', 'msting-operations'] as const;
export const GRAFANA_PROVISIONING_FILES = [
  'provisioning/datasources/loki.yml',
  'provisioning/dashboards/msting.yml',
  ...GRAFANA_DASHBOARDS.map((uid) => `provisioning/dashboards/sting-ce/${uid}.json`),
];

/**
 * Process (and thread) limits: enough for what each service runs at its busiest, low enough that
 * a fork bomb or a runaway thread pool in one container cannot exhaust the host's PIDs.
 * PostgreSQL runs a process per connection, so its limit follows database.max_connections.
 */
const DEFAULT_PIDS = 256;
const SERVICE_PIDS: Record<string, number> = { app: 1024, knowledge: 1024, chatbot: 1024, chroma: 1024, 'external-ai': 512, messaging: 512, grafana: 512, loki: 512 };
/** A model service runs a thread per core for its tensor library, and more for its tokenizer. */
const MODEL_PIDS = 4096;

function pidsLimitFor(name: string, config: MstingConfig, isModel: boolean): number {
  const configured = config.resources[name]?.pids;
  if (configured !== undefined) return configured;
  if (isModel) return MODEL_PIDS;
  if (name === 'db') return Math.max(DEFAULT_PIDS, config.database.max_connections * 2 + 64);
  return SERVICE_PIDS[name] ?? DEFAULT_PIDS;
}

// Paths and ports below are written in the catalogue too; the renderers and env files need them
// here, and test/unit/render/catalogue.test.ts fails when the two disagree.

/**
 * The app's HOME, on the `app_home` volume: at start it creates `~/.sting/certs` (and reads the
 * certificate there for a `localhost` or development install), and keeps its installation id under
 * STING_INSTALL_DIR, so a read-only root needs a writable home (app/__init__.py, app/utils/installation_id.py).
 */
export const APP_HOME = '/home/sting';
/** The chatbot's own port (BEE_PORT in chatbot/bee_server.py). */
export const CHATBOT_PORT = 8888;
/** Where the React build reads its runtime settings (`window.env`). */
export const FRONTEND_ENV_JS = '/usr/share/nginx/html/env.js';
/** The external-ai service's port (EXTERNAL_AI_PORT in external_ai_service/app.py). */
export const EXTERNAL_AI_PORT = 8091;

const MODEL_IMAGE = '{registry}/sting-ce-llm-{name}:{version}';

function fillImage(template: string, registry: string, version: string, name: string): string {
  const values: Record<string, string> = { registry: registry.replace(/\/+$/, ''), version, name };
  return template.replace(/\{(registry|version|name)\}/g, (_, key: string) => values[key]!);
}

/**
 * The name a STING-CE image has in a registry, `<registry>/sting-ce-<service>:<version>` (models:
 * `sting-ce-llm-<name>`), whatever `images.overrides` says; undefined for a stock image
 * (PostgreSQL, Vault, Kratos…), which other hosts pull from its own registry. `images push`
 * pushes under these names and a host whose `images.registry` names that registry pulls them.
 */
export function registryImageName(registry: string, version: string, service: string, isModel = false): string | undefined {
  const template = isModel ? MODEL_IMAGE : CATALOGUE[service]?.image;
  if (template === undefined || !template.includes('{registry}')) return undefined;
  return fillImage(template, registry, version, service);
}

/**
 * The image of a service: `images.overrides.<service>` wins, else the catalogue's image with
 * `{registry}` and `{version}` filled in (models: `<registry>/sting-ce-llm-<name>:<version>`); a
 * digest from `images.digests.<service>` is appended.
 */
export function resolveImage(config: MstingConfig, service: string, isModel = false): string {
  let image = config.images.overrides[service];
  if (image === undefined) {
    const template = isModel ? MODEL_IMAGE : CATALOGUE[service]?.image;
    if (template === undefined) throw new Error(`no image known for service ${service}`);
    image = fillImage(template, config.images.registry, config.images.version, service);
  }
  const digest = config.images.digests[service];
  if (digest !== undefined) image = `${image.replace(/@sha256:[a-f0-9]{64}$/, '')}@${digest}`;
  return image;
}

/** What a catalogue command's `{placeholder}` stands for: a value of config.yml, in the form the program reads. */
const COMMAND_VALUES: Record<CommandPlaceholder, (config: MstingConfig) => string> = {
  'database.max_connections': (config) => String(config.database.max_connections),
  'database.shared_buffers': (config) => formatPgMemory(parseMemory(config.database.shared_buffers)),
  'redis.maxmemory': (config) => String(parseMemory(config.redis.maxmemory)),
  'redis.maxmemory_policy': (config) => config.redis.maxmemory_policy,
};

/**
 * One argument with its placeholders replaced. Each argument stays one list element in the
 * compose file, which is written as data, so a value can never add an argument or a key.
 */
function fillArgument(argument: string, config: MstingConfig): string {
  return argument.replace(/\{([^{}]*)\}/g, (_, name: string) => COMMAND_VALUES[name as CommandPlaceholder](config));
}

function mountPlan(mount: CatalogueMount): MountPlan {
  if ('volume' in mount) return { type: 'volume', source: mount.volume, target: mount.target, readOnly: mount.read_only };
  if ('bind' in mount) return { type: 'bind', source: mount.bind, target: mount.target, readOnly: mount.read_only };
  return { type: 'bind', source: `${RENDER_PATHS.serviceConfigDir}/${mount.config}`, target: mount.target, readOnly: true };
}

function healthPlan(entry: ResolvedEntry): HealthPlan | null {
  const h = entry.health;
  if (h === undefined) return null;
  return {
    test: h.shell !== undefined ? ['CMD-SHELL', h.shell] : ['CMD', ...h.command!],
    intervalS: h.interval,
    timeoutS: h.timeout,
    startPeriodS: h.start_period,
    retries: h.retries,
  };
}

type Draft = Omit<ServicePlan, 'profiles' | 'image' | 'secrets' | 'memoryBytes' | 'pidsLimit' | 'cpus' | 'stopGracePeriodS' | 'vaultTokenFile' | 'networks' | 'aliases' | 'containerName' | 'expose'>;

interface Ctx {
  config: MstingConfig;
  recommendation: Recommendation;
  /** The services of the profile being planned. */
  services: ReadonlySet<string>;
  /** Model name → the commit its revision resolved to in the models directory. */
  modelCommits: ReadonlyMap<string, string>;
}

/** `published` of a port whose `ports.<key>` is unset: planStack drops it (no host port is 0). */
const NOT_PUBLISHED = 0;

/** A fixed service: its catalogue entry (compose/<name>.yml) filled in for this config and profile. */
function draftFixed(name: string, ctx: Ctx): Draft {
  const { config } = ctx;
  const catalogued = CATALOGUE[name];
  if (catalogued === undefined) throw new Error(`unknown service ${name}`);
  const entry = resolveEntry(catalogued, config);
  const models = entry.depends_on_models === undefined ? {} : Object.fromEntries(modelServices(config, ctx.recommendation).map((m) => [m.service, entry.depends_on_models!]));
  const dependsOn = Object.entries({ ...entry.depends_on, ...entry.depends_on_if_running, ...models })
    .filter(([service]) => ctx.services.has(service))
    .map(([service, condition]) => ({ service, condition: COMPOSE_CONDITION[condition] }));
  return {
    name,
    group: entry.group,
    ports: entry.ports.map((p) => ({
      key: p.key,
      hostIp: p.public ? config.network.public_bind_address : config.network.bind_address,
      published: config.ports[p.key] ?? NOT_PUBLISHED,
      target: p.target,
      protocol: 'tcp',
    })),
    dependsOn,
    health: healthPlan(entry),
    mounts: entry.mounts.map(mountPlan),
    configFiles: entry.config_files.map((file) => `${RENDER_PATHS.serviceConfigDir}/${file}`),
    command: entry.command?.map((argument) => fillArgument(argument, config)) ?? null,
    entrypoint: entry.entrypoint,
    user: entry.user,
    readOnlyRootFs: entry.read_only_root,
    capAdd: entry.cap_add,
    tmpfs: entry.tmpfs,
    restart: entry.one_shot ? 'no' : 'unless-stopped',
    gpu: null,
    model: null,
  };
}

/** Memory limit of a model service when neither config.yml nor the recommendation sets one. */
const MODEL_DEFAULT_MEMORY = '16g';

function draftModel(service: string, model: ModelConfig, ctx: Ctx, modelsDir: string): Draft {
  const { config, recommendation } = ctx;
  const fit = recommendation.models.find((m) => m.name === model.name);
  const device = config.llm.device === 'auto' ? recommendation.device : config.llm.device;
  const precision = config.llm.precision === 'auto' ? recommendation.precision : config.llm.precision;
  const usesGpu = recommendation.gpuReservation !== null && (device === 'cuda' || device === 'rocm');
  // A revision that is itself a commit needs no lookup; a branch or tag resolves through the
  // models directory's refs/, which the caller read (rendering stays pure).
  const commit = /^[0-9a-f]{40}$/.test(model.revision) ? model.revision : (ctx.modelCommits.get(model.name) ?? null);
  return {
    name: service,
    group: 'model',
    ports: [],
    dependsOn: [],
    health: { test: ['CMD-SHELL', `curl -fs http://127.0.0.1:${MODEL_CONTAINER_PORT}/health || exit 1`], intervalS: 30, timeoutS: 10, startPeriodS: 600, retries: 5 },
    // The whole cache, read-only: the snapshot's files are relative links into its blobs/.
    mounts: [{ type: 'bind', source: modelsDir, target: MODELS_MOUNT, readOnly: true }],
    configFiles: [],
    // STING-CE's llm-base image ends in `CMD ["/bin/true"]`; its server is /app/server.py.
    command: ['python', '-u', 'server.py'],
    entrypoint: null,
    user: null,
    readOnlyRootFs: true,
    capAdd: [],
    tmpfs: ['/tmp'],
    restart: 'unless-stopped',
    gpu: usesGpu ? recommendation.gpuReservation : null,
    model: {
      name: model.name,
      repo: model.repo,
      revision: model.revision,
      device,
      precision,
      quantization: model.quantization ?? fit?.quantization ?? 'none',
      fits: fit?.fits ?? true,
      commit,
      path: commit === null ? model.repo : modelSnapshotPath(model.repo, commit),
    },
  };
}

/** Each volume's description, from the catalogue mount that carries an `about`. */
const VOLUME_DESCRIPTIONS = new Map(
  Object.values(CATALOGUE).flatMap((entry) => entry.mounts.flatMap((m) => ('volume' in m && m.about !== undefined ? [[m.volume, m.about] as const] : []))),
);

function secretsFor(service: string): string[] {
  return SECRET_SPECS.filter((spec) => spec.consumers.includes(service))
    .map((spec) => spec.id)
    .sort();
}

export interface PlanOptions {
  /** Absolute host directory holding the downloaded models (mounted read-only into model services). */
  modelsDir: string;
  /**
   * Model name → the commit its revision resolved to in the models directory
   * (`readModelCommits` in src/models/snapshots.ts). A model missing here is not downloaded.
   */
  modelCommits?: ReadonlyMap<string, string> | undefined;
}

/**
 * Decide the stack for a profile. Pure and deterministic. Throws MstingError for an unknown
 * profile or a custom profile that names an unknown service.
 */
export function planStack(config: MstingConfig, recommendation: Recommendation, profile: string, options: PlanOptions): StackPlan {
  const names = resolveProfileServices(config, profile, recommendation);
  const selected = new Set(names);
  const ctx: Ctx = { config, recommendation, services: selected, modelCommits: options.modelCommits ?? new Map() };
  const profileSets = knownProfiles(config).map((p) => ({ profile: p, services: new Set(resolveProfileServices(config, p, recommendation)) }));
  const models = new Map(modelServices(config, recommendation).map((m) => [m.service, m.model]));
  const warnings: string[] = [];

  const drafted = names.map((name): Omit<ServicePlan, 'networks' | 'aliases' | 'containerName'> => {
    const model = models.get(name);
    const draft = model ? draftModel(name, model, ctx, options.modelsDir) : draftFixed(name, ctx);
    const inProfiles = profileSets.filter((p) => p.services.has(name)).map((p) => p.profile);
    const limits = CATALOGUE[name]?.limits;
    const fit = model ? recommendation.models.find((m) => m.name === model.name) : undefined;
    const memory = model
      ? (model.memory_limit ?? config.resources[model.name]?.memory ?? fit?.memoryLimit ?? MODEL_DEFAULT_MEMORY)
      : (config.resources[name]?.memory ?? limits?.memory ?? '1g');
    let memoryBytes = parseMemory(memory);
    if (name === 'redis' && config.resources.redis?.memory === undefined) {
      // Headroom above maxmemory for Redis's own buffers.
      memoryBytes = Math.max(memoryBytes, Math.ceil((parseMemory(config.redis.maxmemory) * 1.5) / 1024 ** 2) * 1024 ** 2);
    }
    return {
      ...draft,
      // Only the frontend is published unless config.yml sets a port (docs/security.md).
      ports: draft.ports.filter((p) => p.published !== NOT_PUBLISHED),
      expose: draft.ports.filter((p) => p.published === NOT_PUBLISHED).map((p) => p.target),
      image: resolveImage(config, model ? model.name : name, model !== undefined),
      vaultTokenFile: VAULT_CLIENT_SERVICES.includes(name) ? `secrets/vault-token-${name}` : null,
      profiles: inProfiles.length === profileSets.length ? [] : inProfiles,
      secrets: model ? [] : secretsFor(name),
      memoryBytes,
      pidsLimit: pidsLimitFor(model ? model.name : name, config, model !== undefined),
      cpus: config.resources[model ? model.name : name]?.cpus ?? (model ? null : (limits?.cpus ?? null)),
      stopGracePeriodS: config.stop_timeout,
      dependsOn: draft.dependsOn.sort((a, b) => compareText(a.service, b.service)),
    };
  });

  const { members, networks } = planNetworks(drafted, config.network.subnet ?? null);
  const services: ServicePlan[] = drafted.map((s) => ({
    ...s,
    networks: members.get(s.name) ?? [],
    aliases: serviceAliases(s.name, members.get(s.name) ?? []),
    containerName: config.project.name === STING_CE_PROJECT ? stingCeName(s.name) : null,
  }));

  if (names.includes('llm-gateway')) {
    const fits = new Map(recommendation.models.map((m) => [m.name, m]));
    for (const model of enabledModels(config)) {
      const fit = fits.get(model.name);
      if (fit === undefined) warnings.push(`model ${model.name} is not started: the hardware recommendation did not assess it`);
      else if (!fit.fits) warnings.push(`model ${model.name} is not started: ${fit.reason}`);
    }
  }

  const volumeUsers = new Map<string, string[]>();
  for (const service of services) {
    for (const mount of service.mounts) {
      if (mount.type === 'volume') volumeUsers.set(mount.source, [...(volumeUsers.get(mount.source) ?? []), service.name]);
    }
  }
  const volumes = [...volumeUsers]
    .map(([name, users]) => ({ name, description: VOLUME_DESCRIPTIONS.get(name) ?? name, services: users }))
    .sort((a, b) => compareText(a.name, b.name));

  return {
    project: config.project.name,
    profile,
    services,
    layers: layersOf(stackGraph({ services }), names),
    volumes,
    networks,
    warnings,
  };
}

/** Memory limit as compose writes it. */
export function memoryLimit(service: ServicePlan): string {
  return formatSize(service.memoryBytes);
}
