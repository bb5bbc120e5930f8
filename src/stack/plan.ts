import { compareText } from '../compare.js';
import type { MstingConfig, ModelConfig } from '../config/schema.js';
import { MstingError } from '../errors.js';
import type { Device, Precision, Recommendation } from '../hardware/types.js';
import {
  BUILTIN_PROFILES,
  CORE_SERVICES,
  FIXED_SERVICES,
  LLM_SERVICES,
  OBSERVABILITY_SERVICES,
  type BuiltinProfile,
  type PortKey,
} from './names.js';
import { MODEL_SERVICE_PORT, modelReplicaServices } from '../gateway/naming.js';
import { repoFolderName } from '../models/cache-layout.js';
import { STING_CE_PROJECT, planNetworks, stingCeName, type NetworkKey, type NetworkPlan } from './networks.js';
import { SECRET_SPECS, VAULT_CLIENT_SERVICES } from './secrets.js';
import { formatPgMemory, formatSize, parseMemory } from './units.js';

/** Kratos's config folder and the folder it reads the TLS certificate from, inside its container. */
export const KRATOS_CONFIG_DIR = '/etc/config/kratos';
export const KRATOS_CERTS_DIR = '/etc/certs';

/**
 * The stack as data: which services a profile runs, with image, ports, dependencies, health
 * check, mounts, secrets and limits. Pure: config + recommendation + profile in, plan out.
 * The compose renderer turns a plan into YAML; `start`, `status` and `backup` read the same plan.
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
  /** Further names the service answers to on each of its networks (STING-CE's container name). */
  aliases: string[];
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

const VOLUMES: Record<string, string> = {
  vault_data: 'Vault file storage (every secret)',
  vault_logs: "Vault's audit log (every request, values hashed)",
  postgres_data: 'PostgreSQL data (app, kratos, messaging, knowledge databases)',
  redis_data: 'Redis data',
  app_home: "the app's home: its installation id and the state it keeps there",
  chroma_data: 'Chroma vector store',
  knowledge_data: 'knowledge service data',
  knowledge_uploads: 'documents uploaded into honey jars',
  messaging_data: 'messaging service data',
  mailpit_data: 'Mailpit mailbox',
  sting_logs: 'application log files of the STING services',
  loki_data: 'Loki log store',
  grafana_data: 'Grafana dashboards and settings',
  promtail_data: 'Promtail read positions',
  log_forwarder_data: 'log forwarder read positions',
};

const DEFAULT_LIMITS: Record<string, { memory: string; cpus: number }> = {
  vault: { memory: '512m', cpus: 0.5 },
  db: { memory: '1g', cpus: 1 },
  redis: { memory: '512m', cpus: 0.5 },
  'kratos-migrate': { memory: '256m', cpus: 0.5 },
  kratos: { memory: '512m', cpus: 0.5 },
  mailpit: { memory: '128m', cpus: 0.25 },
  app: { memory: '1g', cpus: 1 },
  frontend: { memory: '256m', cpus: 0.5 },
  messaging: { memory: '256m', cpus: 0.5 },
  chroma: { memory: '2g', cpus: 1 },
  knowledge: { memory: '3g', cpus: 1.5 },
  'llm-gateway': { memory: '128m', cpus: 0.5 },
  chatbot: { memory: '2g', cpus: 1 },
  'external-ai': { memory: '512m', cpus: 0.5 },
  loki: { memory: '1g', cpus: 1 },
  promtail: { memory: '256m', cpus: 0.25 },
  grafana: { memory: '512m', cpus: 0.5 },
  'log-forwarder': { memory: '256m', cpus: 0.25 },
};

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

/** Stock images, pinned by tag. STING's own images come from `images.registry`. */
export const STOCK_IMAGES: Record<string, string> = {
  vault: 'hashicorp/vault:1.17.6',
  db: 'postgres:16',
  redis: 'redis:7-alpine',
  'kratos-migrate': 'oryd/kratos:v1.3.0',
  kratos: 'oryd/kratos:v1.3.0',
  mailpit: 'axllent/mailpit:v1.21.5',
  chroma: 'chromadb/chroma:0.5.20',
  'llm-gateway': 'nginx:1.27-alpine',
  loki: 'grafana/loki:3.0.0',
  promtail: 'grafana/promtail:3.0.0',
  'log-forwarder': 'grafana/promtail:3.0.0',
  grafana: 'grafana/grafana:11.0.0',
};

const STING_IMAGES = new Set(['app', 'frontend', 'messaging', 'knowledge', 'chatbot', 'external-ai']);

/**
 * The app's HOME, on the `app_home` volume: at start it creates `~/.sting/certs` (and reads the
 * certificate there for a `localhost` or development install), and keeps its installation id under
 * STING_INSTALL_DIR, so a read-only root needs a writable home (app/__init__.py, app/utils/installation_id.py).
 */
export const APP_HOME = '/home/sting';
/** Where STING-CE's knowledge service keeps uploaded documents (knowledge_service/app.py UPLOAD_DIR). */
export const KNOWLEDGE_UPLOADS = '/tmp/sting_uploads';
/** The chatbot's own port (BEE_PORT in chatbot/bee_server.py). */
export const CHATBOT_PORT = 8888;
/** The external-ai service's port (EXTERNAL_AI_PORT in external_ai_service/app.py). */
export const EXTERNAL_AI_PORT = 8091;

/**
 * The image of a service: `images.overrides.<service>` wins, else the stock image, else
 * `<registry>/sting-ce-<service>:<version>` (models: `sting-ce-llm-<name>`); a digest from
 * `images.digests.<service>` is appended.
 */
export function resolveImage(config: MstingConfig, service: string, isModel = false): string {
  const registry = config.images.registry.replace(/\/+$/, '');
  let image = config.images.overrides[service];
  if (image === undefined) {
    const stock = isModel ? undefined : STOCK_IMAGES[service];
    if (stock !== undefined) image = stock;
    else if (isModel) image = `${registry}/sting-ce-llm-${service}:${config.images.version}`;
    else if (STING_IMAGES.has(service)) image = `${registry}/sting-ce-${service}:${config.images.version}`;
    else throw new Error(`no image known for service ${service}`);
  }
  const digest = config.images.digests[service];
  if (digest !== undefined) image = `${image.replace(/@sha256:[a-f0-9]{64}$/, '')}@${digest}`;
  return image;
}

function health(test: string[], overrides: Partial<HealthPlan> = {}): HealthPlan {
  return { test, intervalS: 30, timeoutS: 10, startPeriodS: 40, retries: 3, ...overrides };
}

function shellHealth(script: string, overrides: Partial<HealthPlan> = {}): HealthPlan {
  return health(['CMD-SHELL', script], overrides);
}

const volume = (source: string, target: string, readOnly = false): MountPlan => ({ type: 'volume', source, target, readOnly });
const bind = (source: string, target: string, readOnly = true): MountPlan => ({ type: 'bind', source, target, readOnly });
const configMount = (service: string, file: string, target: string): MountPlan => bind(serviceConfigPath(service, file), target);

function secretsFor(service: string): string[] {
  return SECRET_SPECS.filter((spec) => spec.consumers.includes(service))
    .map((spec) => spec.id)
    .sort();
}

/** Enabled models, in config order. */
export function enabledModels(config: MstingConfig): ModelConfig[] {
  return config.llm.models.filter((m) => m.enabled);
}

/**
 * The model services the full profile runs: every replica (`phi3`, `phi3-2`, ...) of each enabled
 * model the recommendation says fits. A model the recommendation did not assess, or that does
 * not fit, is not started (the gateway answers for it with an explanation instead).
 */
export function modelServices(config: MstingConfig, recommendation: Recommendation): { service: string; model: ModelConfig; replica: number }[] {
  const fits = new Map(recommendation.models.map((m) => [m.name, m.fits]));
  return enabledModels(config)
    .filter((m) => fits.get(m.name) === true)
    .flatMap((model) => modelReplicaServices(model).map((service, i) => ({ service, model, replica: i + 1 })));
}

type Draft = Omit<
  ServicePlan,
  'profiles' | 'image' | 'secrets' | 'memoryBytes' | 'pidsLimit' | 'cpus' | 'restart' | 'stopGracePeriodS' | 'gpu' | 'model' | 'vaultTokenFile' | 'networks' | 'aliases' | 'containerName' | 'expose'
> &
  Partial<Pick<ServicePlan, 'restart' | 'gpu' | 'model'>>;

interface Ctx {
  config: MstingConfig;
  recommendation: Recommendation;
  services: ReadonlySet<string>;
  /** Model name → the commit its revision resolved to in the models directory. */
  modelCommits: ReadonlyMap<string, string>;
}

/** `published` of a port whose `ports.<key>` is unset: planStack drops it (no host port is 0). */
const NOT_PUBLISHED = 0;

function port(config: MstingConfig, key: PortKey, target: number, isPublic = false): PortPlan {
  return {
    key,
    hostIp: isPublic ? config.network.public_bind_address : config.network.bind_address,
    published: config.ports[key] ?? NOT_PUBLISHED,
    target,
    protocol: 'tcp',
  };
}

const healthy = (service: string) => ({ service, condition: 'service_healthy' as const });
const NGINX_TMPFS = ['/tmp', '/var/cache/nginx', '/var/run'];
const LOG_MOUNT = volume('sting_logs', '/var/log/sting');
const kratosConfigMounts = (): MountPlan[] => [
  configMount('kratos', 'kratos.yml', `${KRATOS_CONFIG_DIR}/kratos.yml`),
  configMount('kratos', 'identity.schema.json', `${KRATOS_CONFIG_DIR}/identity.schema.json`),
];

/** Where the React build reads its runtime settings (`window.env`). */
export const FRONTEND_ENV_JS = '/usr/share/nginx/html/env.js';

function draftFixed(name: string, ctx: Ctx): Draft {
  const { config } = ctx;
  const base = {
    name,
    group: 'core' as ServiceGroup,
    ports: [] as PortPlan[],
    dependsOn: [] as Draft['dependsOn'],
    mounts: [] as MountPlan[],
    configFiles: [] as string[],
    command: null,
    entrypoint: null,
    user: null,
    readOnlyRootFs: true,
    capAdd: [] as string[],
    tmpfs: ['/tmp'],
  };
  switch (name) {
    case 'vault':
      return {
        ...base,
        ports: [port(config, 'vault', 8200)],
        // Sealed (exit 2) counts as up: unsealing is msting's next step, not a failure.
        health: shellHealth('vault status >/dev/null 2>&1; rc=$?; [ "$rc" -eq 0 ] || [ "$rc" -eq 2 ]'),
        // The file audit device (enabled by `vault init`) writes /vault/logs/audit.log: kept on a volume.
        mounts:
          config.vault.mode === 'server'
            ? [volume('vault_data', '/vault/file'), volume('vault_logs', '/vault/logs'), configMount('vault', 'vault.json', '/vault/config/vault.json')]
            : [],
        configFiles: config.vault.mode === 'server' ? [serviceConfigPath('vault', 'vault.json')] : [],
        command: config.vault.mode === 'server' ? ['server'] : ['server', '-dev', '-dev-listen-address=0.0.0.0:8200'],
        // The entrypoint fixes volume ownership, then drops to the vault user.
        capAdd: ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'SETGID', 'SETUID'],
        tmpfs: config.vault.mode === 'server' ? ['/tmp'] : ['/tmp', '/vault/logs'],
      };
    case 'db':
      return {
        ...base,
        ports: [port(config, 'db', 5432)],
        // The first start runs initdb and STING-CE's schema and migrations before it listens on TCP.
        health: health(['CMD', 'pg_isready', '-U', 'postgres', '-d', 'postgres', '-h', '127.0.0.1'], { startPeriodS: 180 }),
        mounts: [volume('postgres_data', '/var/lib/postgresql/data'), bind(`${RENDER_PATHS.serviceConfigDir}/db/initdb`, '/docker-entrypoint-initdb.d')],
        // msting's own init scripts; STING-CE's schema SQL is rendered beside them (render/postgres.ts).
        configFiles: [serviceConfigPath('db', 'initdb/00-msting-roles.sh'), serviceConfigPath('db', 'initdb/90-msting-grants.sh')],
        // Server settings from config.yml as `-c` options: the data volume's postgresql.conf is
        // written once by initdb, so a setting there would never follow a config change.
        command: ['postgres', '-c', `max_connections=${config.database.max_connections}`, '-c', `shared_buffers=${formatPgMemory(parseMemory(config.database.shared_buffers))}`],
        user: '999:999',
        tmpfs: ['/tmp', '/var/run/postgresql'],
      };
    case 'redis':
      // No password and never published: STING-CE's clients connect without one
      // (app/decorators/aal2.py, chatbot/bee_server.py), so Redis is reachable only from the
      // stack's private network. Protected mode would refuse those clients, so it is off.
      return {
        ...base,
        // On the internal data network alone (src/stack/networks.ts); ports.redis is ignored.
        health: shellHealth('redis-cli -p 6379 ping | grep -q PONG'),
        mounts: [volume('redis_data', '/data')],
        command: [
          'redis-server',
          '--port',
          '6379',
          '--appendonly',
          'yes',
          '--protected-mode',
          'no',
          '--maxmemory',
          String(parseMemory(config.redis.maxmemory)),
          '--maxmemory-policy',
          config.redis.maxmemory_policy,
        ],
        user: '999:1000',
      };
    case 'kratos-migrate':
      return {
        ...base,
        dependsOn: [healthy('db')],
        health: null,
        mounts: kratosConfigMounts(),
        configFiles: [serviceConfigPath('kratos', 'kratos.yml'), serviceConfigPath('kratos', 'identity.schema.json')],
        command: ['migrate', 'sql', '-e', '--yes', '--config', `${KRATOS_CONFIG_DIR}/kratos.yml`],
        restart: 'no',
      };
    case 'kratos': {
      const deps = [{ service: 'kratos-migrate', condition: 'service_completed_successfully' as const }, healthy('db')];
      if (config.mail.smtp.host === 'mailpit' && ctx.services.has('mailpit')) deps.push(healthy('mailpit'));
      return {
        ...base,
        ports: [port(config, 'kratos', 4433), port(config, 'kratos-admin', 4434)],
        dependsOn: deps,
        // Both ports serve TLS (STING-CE's app calls https://kratos:4433 and :4434).
        health: shellHealth('wget -q -O /dev/null --no-check-certificate https://127.0.0.1:4434/health/ready || exit 1'),
        mounts: [...kratosConfigMounts(), bind(RENDER_PATHS.certsDir, KRATOS_CERTS_DIR)],
        configFiles: [serviceConfigPath('kratos', 'kratos.yml'), serviceConfigPath('kratos', 'identity.schema.json')],
        command: ['serve', 'all', '--config', `${KRATOS_CONFIG_DIR}/kratos.yml`, '--watch-courier'],
        // The TLS key is the install's (mode 0600, owned by root): read as uid 0, with every
        // capability dropped, as the frontend's nginx master reads it. The image's user (10000)
        // could not open it.
        user: '0:0',
      };
    }
    case 'mailpit':
      return {
        ...base,
        ports: [port(config, 'mailpit', 1025), port(config, 'mailpit-ui', 8025)],
        // `readyz` follows MP_WEBROOT, so it asks /mailpit/readyz, outside the UI's password.
        health: health(['CMD', '/mailpit', 'readyz']),
        mounts: [volume('mailpit_data', '/data')],
      };
    case 'app':
      return {
        ...base,
        ports: [port(config, 'app', 5050)],
        dependsOn: ['db', 'kratos', 'redis', 'vault'].map(healthy),
        health: shellHealth('curl -fsk https://127.0.0.1:5050/health || exit 1', { startPeriodS: 120 }),
        // Uploaded files live in Vault (app/utils/vault_file_client.py); temporary ones in /tmp.
        // The certificate is read from /app/certs, or from ~/.sting/certs on localhost.
        mounts: [volume('app_home', APP_HOME), bind(RENDER_PATHS.certsDir, '/app/certs'), bind(RENDER_PATHS.certsDir, `${APP_HOME}/.sting/certs`), LOG_MOUNT],
      };
    case 'frontend': {
      const upstreams = ['app', 'kratos', 'knowledge', 'chatbot', 'mailpit'].filter((s) => ctx.services.has(s));
      return {
        ...base,
        ports: [port(config, 'frontend', 8443, true)],
        dependsOn: upstreams.map(healthy),
        health: shellHealth('wget -q -O /dev/null --no-check-certificate https://127.0.0.1:8443/health || exit 1'),
        mounts: [
          configMount('frontend', 'nginx.conf', '/etc/nginx/nginx.conf'),
          // What the image's entrypoint scripts would write into the read-only web root at start
          // (40-update-env.sh: env.js), rendered by msting instead.
          configMount('frontend', 'env.js', FRONTEND_ENV_JS),
          bind(RENDER_PATHS.certsDir, '/etc/nginx/certs'),
        ],
        configFiles: [serviceConfigPath('frontend', 'nginx.conf'), serviceConfigPath('frontend', 'env.js')],
        // nginx itself, not the image's /docker-entrypoint.sh: its scripts rewrite files under
        // /usr/share/nginx/html, which stays read-only here (see docs/sting-ce.md, frontend).
        entrypoint: ['nginx'],
        command: ['-g', 'daemon off;'],
        // The master reads the TLS key as root, then runs workers as the nginx user.
        capAdd: ['CHOWN', 'SETGID', 'SETUID'],
        tmpfs: NGINX_TMPFS,
      };
    }
    case 'messaging':
      return {
        ...base,
        ports: [port(config, 'messaging', 8889)],
        dependsOn: ['db', 'redis'].map(healthy),
        health: shellHealth('curl -fs http://127.0.0.1:8889/health || exit 1'),
        mounts: [volume('messaging_data', '/app/data')],
      };
    case 'chroma':
      return {
        ...base,
        health: shellHealth("bash -c ': > /dev/tcp/127.0.0.1/8000' || exit 1", { intervalS: 15, retries: 5 }),
        mounts: [volume('chroma_data', '/chroma/chroma')],
        readOnlyRootFs: false,
      };
    case 'knowledge':
      return {
        ...base,
        ports: [port(config, 'knowledge', 8090)],
        dependsOn: ['chroma', 'db', 'redis'].map(healthy),
        health: shellHealth(
          'python3 -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen(\'http://127.0.0.1:8090/health\', timeout=5).status == 200 else 1)"',
          { retries: 5 },
        ),
        // Uploaded documents persist: they are what the honey jars' text is indexed from.
        mounts: [volume('knowledge_data', '/app/data'), volume('knowledge_uploads', KNOWLEDGE_UPLOADS), LOG_MOUNT],
      };
    case 'llm-gateway':
      return {
        ...base,
        group: 'llm',
        ports: [port(config, 'llm-gateway', 8080)],
        dependsOn: modelServices(config, ctx.recommendation)
          .filter((m) => ctx.services.has(m.service))
          .map((m) => healthy(m.service)),
        health: shellHealth('wget -q -O /dev/null http://127.0.0.1:8080/health || exit 1'),
        // The directory, not the file: a bind-mounted file keeps its old inode after msting
        // replaces it atomically, so a checked config could never be reloaded in place.
        mounts: [bind(`${RENDER_PATHS.serviceConfigDir}/llm-gateway`, '/etc/nginx/msting')],
        command: ['nginx', '-c', '/etc/nginx/msting/nginx.conf', '-g', 'daemon off;'],
        configFiles: [serviceConfigPath('llm-gateway', 'nginx.conf')],
        user: '101:101',
        tmpfs: NGINX_TMPFS,
      };
    case 'chatbot':
      return {
        ...base,
        group: 'llm',
        ports: [port(config, 'chatbot', CHATBOT_PORT)],
        dependsOn: ['db', 'kratos', 'llm-gateway', 'messaging', 'redis'].filter((s) => ctx.services.has(s)).map(healthy),
        health: shellHealth(`curl -fs http://127.0.0.1:${CHATBOT_PORT}/health || exit 1`, { timeoutS: 30, startPeriodS: 240, retries: 5 }),
      };
    case 'external-ai':
      // Not published: the app and the chatbot call it on the stack network.
      return {
        ...base,
        group: 'llm',
        dependsOn: ['llm-gateway', 'redis'].filter((s) => ctx.services.has(s)).map(healthy),
        health: health(['CMD', 'curl', '-f', `http://127.0.0.1:${EXTERNAL_AI_PORT}/health`], { startPeriodS: 180, retries: 6 }),
      };
    case 'loki':
      return {
        ...base,
        group: 'observability',
        ports: [port(config, 'loki', 3100)],
        health: shellHealth('wget -q -O /dev/null http://127.0.0.1:3100/ready || exit 1', { startPeriodS: 60 }),
        mounts: [volume('loki_data', '/loki'), configMount('loki', 'loki.yml', '/etc/loki/loki.yml')],
        configFiles: [serviceConfigPath('loki', 'loki.yml')],
        command: ['-config.file=/etc/loki/loki.yml'],
        user: '10001:10001',
      };
    case 'promtail':
      return {
        ...base,
        group: 'observability',
        // Never published: nothing outside the stack talks to Promtail.
        dependsOn: [healthy('loki')],
        health: shellHealth("bash -c ': > /dev/tcp/127.0.0.1/9080' || exit 1"),
        mounts: [
          volume('promtail_data', '/var/lib/promtail'),
          // Docker's json-file logs. Every container's are readable here; the pipeline keeps only
          // lines whose container carries this install's compose project (see observability.ts).
          bind('/var/lib/docker/containers', '/var/lib/docker/containers'),
          configMount('promtail', 'promtail.yml', '/etc/promtail/promtail.yml'),
        ],
        configFiles: [serviceConfigPath('promtail', 'promtail.yml')],
        command: ['-config.file=/etc/promtail/promtail.yml'],
      };
    case 'log-forwarder':
      return {
        ...base,
        group: 'observability',
        dependsOn: [healthy('loki')],
        health: shellHealth("bash -c ': > /dev/tcp/127.0.0.1/9081' || exit 1"),
        mounts: [
          volume('log_forwarder_data', '/var/lib/promtail'),
          volume('sting_logs', '/var/log/sting', true),
          // msting's own operation log (logs/msting.log, mode 0600), read-only.
          bind('logs', MSTING_LOGS_MOUNT),
          configMount('log-forwarder', 'promtail.yml', '/etc/promtail/promtail.yml'),
        ],
        configFiles: [serviceConfigPath('log-forwarder', 'promtail.yml')],
        command: ['-config.file=/etc/promtail/promtail.yml'],
        // Reads msting.log, which is mode 0600 and may belong to the user who runs msting.
        capAdd: ['DAC_READ_SEARCH'],
      };
    case 'grafana':
      return {
        ...base,
        group: 'observability',
        ports: [port(config, 'grafana', 3000)],
        dependsOn: [healthy('loki')],
        health: shellHealth('wget -q -O /dev/null http://127.0.0.1:3000/api/health || exit 1', { startPeriodS: 60 }),
        // The provisioning directory, not single files: its dashboards come and go with msting's render.
        mounts: [volume('grafana_data', '/var/lib/grafana'), bind(`${RENDER_PATHS.serviceConfigDir}/grafana/provisioning`, '/etc/grafana/provisioning')],
        configFiles: GRAFANA_PROVISIONING_FILES.map((f) => serviceConfigPath('grafana', f)),
        user: '472:0',
      };
    default:
      throw new Error(`unknown service ${name}`);
  }
}

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
    health: shellHealth(`curl -fs http://127.0.0.1:${MODEL_CONTAINER_PORT}/health || exit 1`, { startPeriodS: 600, retries: 5 }),
    // The whole cache, read-only: the snapshot's files are relative links into its blobs/.
    mounts: [bind(modelsDir, MODELS_MOUNT)],
    configFiles: [],
    // STING-CE's llm-base image ends in `CMD ["/bin/true"]`; its server is /app/server.py.
    command: ['python', '-u', 'server.py'],
    entrypoint: null,
    user: null,
    readOnlyRootFs: true,
    capAdd: [],
    tmpfs: ['/tmp'],
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

/** Dependencies a service uses when they run, without pulling them into a profile. */
const SOFT_DEPENDENCIES: Record<string, string[]> = { frontend: ['chatbot', 'mailpit'], kratos: ['mailpit'] };

/** Fixed services plus every running model, each with the services it needs. */
function dependencyGraph(config: MstingConfig, recommendation: Recommendation, modelsDir: string): Map<string, string[]> {
  const models = modelServices(config, recommendation);
  const all = new Set<string>([...FIXED_SERVICES, ...models.map((m) => m.service)]);
  const ctx: Ctx = { config, recommendation, services: all, modelCommits: new Map() };
  const graph = new Map<string, string[]>();
  for (const name of FIXED_SERVICES) {
    const soft = SOFT_DEPENDENCIES[name] ?? [];
    graph.set(
      name,
      draftFixed(name, ctx)
        .dependsOn.map((d) => d.service)
        .filter((d) => !soft.includes(d)),
    );
  }
  for (const m of models) graph.set(m.service, draftModel(m.service, m.model, ctx, modelsDir).dependsOn.map((d) => d.service));
  return graph;
}

function profileBase(config: MstingConfig, recommendation: Recommendation, profile: BuiltinProfile): string[] {
  switch (profile) {
    case 'default':
      return [...CORE_SERVICES];
    case 'observability':
      return [...CORE_SERVICES, ...OBSERVABILITY_SERVICES];
    case 'full':
      return [...CORE_SERVICES, ...OBSERVABILITY_SERVICES, ...LLM_SERVICES, ...modelServices(config, recommendation).map((m) => m.service)];
  }
}

/** Profile names this config knows: the built-in ones, then `profiles` from config.yml. */
export function knownProfiles(config: MstingConfig): string[] {
  return [...BUILTIN_PROFILES, ...Object.keys(config.profiles).filter((p) => !(BUILTIN_PROFILES as readonly string[]).includes(p)).sort()];
}

function checkModelNames(config: MstingConfig): void {
  const seen = new Set<string>();
  for (const model of config.llm.models) {
    if ((FIXED_SERVICES as readonly string[]).includes(model.name)) {
      throw new MstingError('CONFIG_INVALID', `llm.models: model name "${model.name}" is also the name of a stack service`, {
        hint: 'rename the model in config.yml (the name becomes its service name)',
      });
    }
    if (seen.has(model.name)) {
      throw new MstingError('CONFIG_INVALID', `llm.models: model name "${model.name}" appears twice`, { hint: 'give every model its own name' });
    }
    seen.add(model.name);
  }
}

/**
 * The services a profile runs, sorted: the built-in set it extends, the services it adds, and
 * everything those depend on. Throws a usage error for an unknown profile and an invalid-config
 * error for a custom profile naming an unknown service.
 */
export function resolveProfileServices(config: MstingConfig, profile: string, recommendation?: Recommendation, modelsDir = MODELS_MOUNT): string[] {
  checkModelNames(config);
  const rec = recommendation ?? { device: 'cpu', precision: 'int8', gpuReservation: null, models: [], reasons: [], advice: [] };
  const graph = dependencyGraph(config, rec, modelsDir);
  let wanted: string[];
  if ((BUILTIN_PROFILES as readonly string[]).includes(profile)) {
    wanted = profileBase(config, rec, profile as BuiltinProfile);
  } else {
    const custom = config.profiles[profile];
    if (!custom) {
      throw new MstingError('USAGE', `unknown profile "${profile}"`, {
        hint: `use one of: ${knownProfiles(config).join(', ')} (custom profiles are defined under \`profiles\` in config.yml)`,
      });
    }
    const unknown = custom.services.filter((s) => !graph.has(s));
    if (unknown.length > 0) {
      throw new MstingError('CONFIG_INVALID', `profiles.${profile}.services names ${unknown.map((s) => `"${s}"`).join(', ')}, not a service of this stack`, {
        hint: `services: ${[...graph.keys()].sort().join(', ')} (a model must be enabled in llm.models and fit this machine)`,
      });
    }
    wanted = [...profileBase(config, rec, custom.extends), ...custom.services];
  }
  const result = new Set<string>();
  const visit = (name: string): void => {
    if (result.has(name)) return;
    result.add(name);
    for (const dep of graph.get(name) ?? []) visit(dep);
  };
  wanted.forEach(visit);
  return [...result].sort();
}

function startLayers(services: ServicePlan[]): string[][] {
  const remaining = new Map(services.map((s) => [s.name, new Set(s.dependsOn.map((d) => d.service))]));
  const layers: string[][] = [];
  const done = new Set<string>();
  while (remaining.size > 0) {
    const layer = [...remaining].filter(([, deps]) => [...deps].every((d) => done.has(d))).map(([name]) => name).sort();
    if (layer.length === 0) throw new Error(`dependency cycle among ${[...remaining.keys()].join(', ')}`);
    for (const name of layer) {
      remaining.delete(name);
      done.add(name);
    }
    layers.push(layer);
  }
  return layers;
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
  const names = resolveProfileServices(config, profile, recommendation, options.modelsDir);
  const selected = new Set(names);
  const ctx: Ctx = { config, recommendation, services: selected, modelCommits: options.modelCommits ?? new Map() };
  const profileSets = knownProfiles(config).map((p) => ({ profile: p, services: new Set(resolveProfileServices(config, p, recommendation, options.modelsDir)) }));
  const models = new Map(modelServices(config, recommendation).map((m) => [m.service, m.model]));
  const warnings: string[] = [];

  const drafted = names.map((name): Omit<ServicePlan, 'networks' | 'aliases' | 'containerName'> => {
    const model = models.get(name);
    const draft = model ? draftModel(name, model, ctx, options.modelsDir) : draftFixed(name, ctx);
    const inProfiles = profileSets.filter((p) => p.services.has(name)).map((p) => p.profile);
    const limits = DEFAULT_LIMITS[name];
    const fit = model ? recommendation.models.find((m) => m.name === model.name) : undefined;
    const memory = model
      ? (model.memory_limit ?? config.resources[model.name]?.memory ?? fit?.memoryLimit ?? '16g')
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
      restart: draft.restart ?? 'unless-stopped',
      stopGracePeriodS: config.stop_timeout,
      gpu: draft.gpu ?? null,
      model: draft.model ?? null,
      dependsOn: draft.dependsOn.filter((d) => selected.has(d.service)).sort((a, b) => compareText(a.service, b.service)),
    };
  });

  const { members, networks } = planNetworks(drafted, config.network.subnet ?? null);
  const services: ServicePlan[] = drafted.map((s) => ({
    ...s,
    networks: members.get(s.name) ?? [],
    aliases: [stingCeName(s.name)],
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
    .map(([name, users]) => ({ name, description: VOLUMES[name] ?? name, services: users }))
    .sort((a, b) => compareText(a.name, b.name));

  return {
    project: config.project.name,
    profile,
    services,
    layers: startLayers(services),
    volumes,
    networks,
    warnings,
  };
}

/** Memory limit as compose writes it. */
export function memoryLimit(service: ServicePlan): string {
  return formatSize(service.memoryBytes);
}
