import { Document, isCollection, isScalar, type Node } from 'yaml';
import { ExitCode, MstingError } from '../errors.js';
import { DEFAULT_MODELS, modelSchema, type ConfigInput } from './schema.js';
import { validateConfigText } from './validate.js';

/**
 * `msting config import`: a STING-CE `conf/config.yml` (the file STING-CE's own bash manager and
 * conf/config_loader.py read) in, msting's config object out, with every source key accounted
 * for: mapped to a msting key, or dropped with the reason. Pure: no files, no clock; the
 * environment only resolves STING-CE's `${VAR:-default}` placeholders.
 *
 * Three shapes are read: the shipped config.yml (`system`, `application`, `kratos`,
 * `llm_service`, `monitoring.observability`, ...), the shape STING-CE's architecture guide shows
 * (`app.flask`, `auth.kratos`, `database.postgresql`, `llm.models[]`, `observability`), and the
 * older flat one of conf/config_schema.py (`APP_PORT`, `POSTGRES_PASSWORD`, `KC_*`).
 */

export type StingShape = 'sting-ce' | 'sting-ce-flat';

/** One source key whose value went into msting's config. */
export interface MappedKey {
  /** Dotted STING-CE key, e.g. `system.domain`. */
  from: string;
  /** Dotted msting key, e.g. `hostname`. */
  to: string;
  /** The value written (never a secret: secret-like keys are always dropped). */
  value: unknown;
  /** How the value was derived when it is not copied as is. */
  note?: string;
}

/** One source key (or a whole section) that msting's config does not carry. */
export interface DroppedKey {
  from: string;
  reason: string;
  /** The key holds a secret-like value; its value is never shown or copied. */
  secret: boolean;
  /** The value, for a single key that is not secret-like. */
  value?: unknown;
  /** For a dropped section: every key inside it, dotted. */
  keys?: string[];
}

export interface ImportResult {
  shape: StingShape;
  /** msting's config.yml content, ready to write; it passes validateConfigText. */
  config: ConfigInput;
  mapped: MappedKey[];
  dropped: DroppedKey[];
  /** Validation warnings of the result (for example debug on in production). */
  warnings: string[];
}

export interface ImportOptions {
  /** Resolves `${VAR}` and `${VAR:-default}` in values, as STING-CE's manager did from its .env. */
  env?: NodeJS.ProcessEnv;
  /**
   * The STING-CE source tree the file lies in (its conf/ folder's parent), when it does: STING-CE
   * builds every image from that tree, so msting's images.source_dir points at it.
   */
  sourceTree?: string;
}

/** Stands for the file's location in `from` of the images.source_dir entry. */
export const FILE_LOCATION = '(the file\'s location)';

type Path = (string | number)[];

/** A model for llm.models and the source key behind each of its fields. */
interface ImportedModel {
  item: Plain;
  sources: { key: string; from: string; note?: string }[];
}
type Plain = Record<string, unknown>;

const GENERATED =
  'secret, not copied: msting generates its own at `msting vault init` and keeps it in Vault';
const SMTP_SECRET =
  'secret, not copied: msting reads the SMTP relay password from Vault at sting/mail/smtp, key password (`vault kv put -mount=sting mail/smtp password=-`), and builds the courier URI from mail.smtp';
const DERIVED_URL = 'msting derives every URL, cookie domain and WebAuthn relying party from `hostname`';
const CONTAINER_PORT = 'container port, fixed by the STING-CE image; the host port is under `ports`';
const OWN_SERVICE = 'msting runs this service itself on its private network; host and port are not configurable';
const FLOW_LIFESPAN = 'lifespan of a sign-in or registration flow; msting keeps Kratos\'s flow defaults (auth.session_lifetime is the session)';
const NO_EQUIVALENT = 'no msting equivalent';
const KEYCLOAK = 'Keycloak setting: STING-CE replaced Keycloak with Ory Kratos, which msting configures from `auth` and `hostname`';
const HEALTH = 'msting sets every service\'s health check itself (30s interval, 10s timeout, 40s start period, 3 retries)';
const PRESETS = 'STING-CE\'s speed presets: msting follows the hardware recommendation (`msting hardware`)';
const PROFILE_HINT = 'msting starts services by profile: `profile: observability` (or `full`, which adds the local models)';

/** Reasons for whole sections and keys msting has no place for; `*` matches one segment. */
const REASONS: ReadonlyArray<[string, string]> = [
  ['licensing', 'licensing metadata: msting installs the Community Edition and reads no license'],
  ['edition', 'msting installs the Community Edition only'],
  ['system.protocol', 'msting always serves HTTPS'],
  ['application.host', CONTAINER_PORT.replace('container port', 'listen address of the API inside its container')],
  ['application.port', CONTAINER_PORT],
  ['application.install_dir', 'the install directory is `--home` (or MSTING_HOME), not a config key'],
  ['application.models_dir', 'the models directory is the environment variable STING_MODELS_DIR, not a config key: export STING_MODELS_DIR when running msting'],
  ['application.ssl.enabled', 'msting always serves TLS'],
  ['application.ssl.cert_dir', 'certificates live in <home>/certs; create or renew them with `msting setup-ssl`'],
  ['application.ssl.email', 'Let\'s Encrypt contact address: give it to `msting setup-ssl --domain HOST --email ADDRESS`'],
  ['application.api_url', DERIVED_URL],
  ['application.frontend_url', DERIVED_URL],
  ['application.mode', 'STING-CE demo mode has no msting equivalent'],
  ['application.demo_features', 'STING-CE demo mode has no msting equivalent'],
  ['database.host', OWN_SERVICE],
  ['database.port', CONTAINER_PORT],
  ['database.name', 'msting creates one database and one least-privilege user per service'],
  ['database.user', 'msting creates one database and one least-privilege user per service'],
  ['database.connection_timeout', NO_EQUIVALENT],
  ['database.postgresql.host', OWN_SERVICE],
  ['database.postgresql.port', CONTAINER_PORT],
  ['database.postgresql.name', 'msting creates one database and one least-privilege user per service'],
  ['database.postgresql.user', 'msting creates one database and one least-privilege user per service'],
  ['security.authentication', 'the STING-CE app\'s own AAL2 window; msting has no key for it, the app\'s default applies'],
  ['security.message_pii_protection', 'the STING-CE app\'s chat PII protection; msting has no key for it, the app\'s defaults apply'],
  ['security.supertokens', 'SuperTokens settings: STING-CE replaced SuperTokens with Ory Kratos (`auth`)'],
  ['security.demo_mode', 'STING-CE demo mode has no msting equivalent'],
  ['security.cors', NO_EQUIVALENT],
  ['security.session', NO_EQUIVALENT],
  ['security.input_validation', NO_EQUIVALENT],
  ['frontend.react.api_url', DERIVED_URL],
  ['frontend.theme', 'a UI preference the app stores; msting has no key for it'],
  ['frontend.development', 'development-server settings; msting runs the built frontend'],
  ['profile_service', 'STING-CE\'s profile service is not part of the stack msting runs'],
  ['docker.network', 'msting names its networks after project.name'],
  ['docker.registry', 'a registry for STING-CE\'s own local builds; msting pulls from images.registry or builds from images.source_dir'],
  ['backup', 'msting backup takes these as options: `msting backup --output DIR --keep N` (archives exclude logs and caches already)'],
  ['storage', 'msting names its volumes and runs STING-CE\'s init SQL itself'],
  ['monitoring.health_checks', HEALTH],
  ['monitoring.logging.max_size', 'Docker log rotation is not configurable in msting'],
  ['monitoring.logging.max_files', 'Docker log rotation is not configurable in msting'],
  ['monitoring.enabled', NO_EQUIVALENT],
  ['monitoring.demo_analytics', 'STING-CE demo mode has no msting equivalent'],
  ['monitoring.logging.demo_events', 'STING-CE demo mode has no msting equivalent'],
  ['monitoring.logging.user_analytics', NO_EQUIVALENT],
  ['pii_detection', 'the STING-CE app\'s document PII detection and retention; msting has no key for it, the app\'s defaults apply'],
  ['kratos.public_url', DERIVED_URL],
  ['kratos.admin_url', DERIVED_URL],
  ['kratos.browser_url', DERIVED_URL],
  ['kratos.cookie_domain', DERIVED_URL],
  ['kratos.selfservice.default_return_url', DERIVED_URL],
  ['kratos.selfservice.*.ui_url', DERIVED_URL],
  ['kratos.selfservice.*.lifespan', FLOW_LIFESPAN],
  ['kratos.selfservice.registration.enabled', 'msting always offers registration; restrict sign-up in Kratos\'s identity admin instead'],
  ['kratos.methods.webauthn.rp_id', DERIVED_URL],
  ['kratos.methods.webauthn.origin', DERIVED_URL],
  ['kratos.methods.webauthn.rp_origins', DERIVED_URL],
  ['kratos.methods.webauthn.display_name', 'msting names the relying party STING'],
  ['kratos.methods.webauthn.rp_name', 'msting names the relying party STING'],
  ['kratos.methods.oidc', 'msting renders no OIDC sign-in providers'],
  ['kratos.methods.link', 'magic links: msting signs in with one-time email codes (auth.methods.code)'],
  ['kratos.methods.demo_auth', 'STING-CE demo mode has no msting equivalent'],
  ['kratos.courier', 'msting builds the courier\'s SMTP URI from `mail`'],
  ['auth.kratos.public_url', DERIVED_URL],
  ['auth.kratos.admin_url', DERIVED_URL],
  ['authentication', 'STING-CE demo-mode guest accounts and limits; msting has no equivalent'],
  ['llm_service.enabled', 'msting runs the LLM services in the `full` profile: `msting start --profile full`, or `profile: full`'],
  ['llm_service.ollama', 'an external Ollama or LM Studio endpoint: msting runs local model services behind its own gateway and has no key for an outside endpoint'],
  ['llm_service.external_ai', 'an external Ollama or LM Studio endpoint: msting runs local model services behind its own gateway and has no key for an outside endpoint'],
  ['llm_service.nectar_worker', 'STING-CE\'s Nectar worker is not part of the stack msting runs'],
  ['llm_service.report_generation', NO_EQUIVALENT],
  ['llm_service.gateway.port', CONTAINER_PORT],
  ['llm_service.gateway.log_level', NO_EQUIVALENT],
  ['llm_service.gateway.max_retries', NO_EQUIVALENT],
  ['llm_service.hardware.max_memory', 'msting sizes model memory from the hardware recommendation (llm.models[].memory_limit per model)'],
  ['llm_service.performance', 'STING-CE\'s performance presets: msting follows the hardware recommendation (`msting hardware`)'],
  ['llm_service.filtering', NO_EQUIVALENT],
  ['llm_service.routing', NO_EQUIVALENT],
  ['llm_service.model_lifecycle', 'msting runs one service per enabled model; there is no lazy loading to tune'],
  ['llm_service.task_routing', NO_EQUIVALENT],
  ['llm_service.huggingface.fallback_strategy', NO_EQUIVALENT],
  ['llm_service.huggingface.open_models', NO_EQUIVALENT],
  ['llm_service.models.*.endpoint', 'msting names each model\'s service after the model and wires the gateway to it'],
  ['llm_service.models.*.max_tokens', 'a generation setting of STING-CE\'s model service; msting\'s model services use their defaults'],
  ['llm_service.models.*.temperature', 'a generation setting of STING-CE\'s model service; msting\'s model services use their defaults'],
  ['llm_service.models.*.device', 'per-model device: msting places every model by llm.device'],
  ['llm_service.models.*.precision', 'per-model precision: msting loads every model with llm.precision (per-model int8/int4 goes to quantization)'],
  ['llm_service.models.*.custom_features', NO_EQUIVALENT],
  ['llm_service.models.*.demo_optimized', 'STING-CE demo mode has no msting equivalent'],
  ['chatbot', 'settings of STING-CE\'s chatbot (Bee) the app reads itself; msting has no key for them'],
  ['nectar_worker', 'STING-CE\'s Nectar worker is not part of the stack msting runs'],
  ['knowledge_service', 'settings the knowledge service reads from its own defaults; msting has no key for them (its host port is ports.knowledge)'],
  ['honey_reserve', 'Honey Reserve storage settings the app reads itself; msting has no key for them'],
  ['headscale', 'Headscale support tunnels are not part of the stack msting runs'],
  ['vault', 'msting runs its own Vault (`vault.mode`, `vault.shares`, `vault.threshold`); address, mounts and auth are fixed'],
  ['redis.host', OWN_SERVICE],
  ['redis.port', CONTAINER_PORT],
  ['redis.databases', 'Redis database numbers are fixed by the STING-CE services'],
  ['email.mode', 'STING-CE\'s email mode decides which of its SMTP sections was used; msting has one (`mail.smtp`)'],
  ['email_service.mode', 'STING-CE\'s email mode decides which of its SMTP sections was used; msting has one (`mail.smtp`)'],
  ['email_service.*.provider', 'msting sends through SMTP only (`mail.smtp`)'],
  ['email.*.provider', 'msting sends through SMTP only (`mail.smtp`)'],
  ['ai', 'an external Ollama or LM Studio endpoint and assistant settings: msting runs local model services behind its own gateway and has no key for them'],
  ['features.magic_links', 'magic links: msting signs in with one-time email codes (auth.methods.code)'],
  ['features.audit_logging', NO_EQUIVALENT],
  ['logging.format', NO_EQUIVALENT],
  ['logging.output', NO_EQUIVALENT],
  ['maintenance', NO_EQUIVALENT],
  ['performance', 'STING-CE\'s performance presets: msting follows the hardware recommendation (`msting hardware`)'],
  ['demo_env', 'STING-CE demo mode has no msting equivalent'],
  ['speed_preset', PRESETS],
  ['maximum_speed', PRESETS],
  ['balanced', PRESETS],
  ['maximum_quality', PRESETS],
  ['apple_silicon_balanced', PRESETS],
  ['app.flask.host', CONTAINER_PORT.replace('container port', 'listen address of the API inside its container')],
  ['observability.profiles', 'msting\'s profiles are built in (default, observability, full) plus `profiles`'],
  ['observability.enabled', PROFILE_HINT],
  ['observability.*.enabled', PROFILE_HINT],
  ['observability.grafana.admin_user', 'msting creates the Grafana admin account itself; its login is kept in Vault'],
  ['observability.grafana.security', 'msting sets Grafana\'s cookie and embedding security itself'],
  ['observability.grafana.datasources', 'msting provisions the Loki data source itself'],
  ['observability.grafana.dashboards', 'msting provisions its dashboards from files it renders'],
  ['observability.loki.storage.type', 'msting keeps Loki\'s data on a filesystem volume'],
  ['observability.loki.storage.compaction_interval', NO_EQUIVALENT],
  ['observability.loki.limits', NO_EQUIVALENT],
  ['observability.loki.max_line_size', NO_EQUIVALENT],
  ['observability.loki.auth_enabled', 'msting runs Loki single-tenant on the private network'],
  ['observability.loki.sanitization', 'msting sanitizes logs in Promtail (observability.promtail.pii_sanitization)'],
  ['observability.promtail.targets', 'msting\'s Promtail collects every container of this install'],
  ['observability.promtail.log_paths', 'msting\'s Promtail collects every container of this install'],
  ['observability.promtail.vault_integration', NO_EQUIVALENT],
  ['observability.promtail.sanitization', 'msting\'s sanitization is one switch (observability.promtail.pii_sanitization); the per-pattern choices have no key'],
  ['observability.log_forwarding', 'msting\'s log forwarder has no external targets to configure'],
  ['observability.alerting', 'msting renders no alerting rules or channels'],
];

/** What a msting key takes, for the reason a value that does not convert is dropped. */
const EXPECTED: ReadonlyArray<[string, string]> = [
  ['app.env', 'production or development; STING-CE\'s demo mode has no msting equivalent'],
  ['app.log_level', 'debug, info, warning or error'],
  ['app.max_upload_mb', 'a size in bytes'],
  ['ports', 'a port from 1 to 65535'],
  ['llm.device', 'auto, cuda, rocm, mps or cpu'],
  ['llm.precision', 'auto, bf16, fp16, int8 or int4'],
  ['auth.session', 'a duration such as 30m or 24h, or a number of seconds'],
  ['llm.gateway.read_timeout', 'a number of seconds'],
  ['observability.loki.retention', 'a duration such as 168h'],
  ['auth.methods', 'true or false'],
  ['app.debug', 'true or false'],
  ['database.max_connections', 'a whole number'],
  ['mail.smtp.port', 'a port from 1 to 65535'],
];

/** Flat keys of conf/config_schema.py (the older manager). */
const FLAT_REASONS: ReadonlyArray<[RegExp, string]> = [
  [/^(KC_|KEYCLOAK_|NEXT_PUBLIC_KEYCLOAK_|OIDC_CLIENT_SECRETS$|KEYSTORE_)/, KEYCLOAK],
  [/^VOLUME_/, 'msting names its volumes and runs STING-CE\'s init SQL itself'],
  [/^BACKUP_/, 'msting backup takes these as options: `msting backup --output DIR --keep N`'],
  [/^INSTALL_DIR$/, 'the install directory is `--home` (or MSTING_HOME), not a config key'],
  [/^REQUIRED_STING_VERSION$/, 'msting pins STING-CE images by images.version'],
  [/^DB_PORT$/, CONTAINER_PORT],
  [/^APP_HOST$/, 'the API\'s name inside the stack is fixed (app)'],
  [/^FLASK_APP$/, 'the Flask entry point is fixed by the STING-CE image'],
  [/^LOG_MAX_SIZE$/, 'Docker log rotation is not configurable in msting'],
  [/^POSTGRES_USER$/, 'msting creates one database and one least-privilege user per service'],
];

/** Top-level sections only STING-CE's config.yml has: any one of them identifies the file. */
const STING_SECTIONS = new Set([
  'licensing', 'system', 'edition', 'application', 'security', 'email_service', 'email', 'profile_service', 'docker', 'backup',
  'storage', 'monitoring', 'pii_detection', 'kratos', 'llm_service', 'chatbot', 'nectar_worker', 'knowledge_service',
  'honey_reserve', 'headscale', 'ai', 'features', 'logging', 'authentication', 'maintenance', 'demo_env', 'speed_preset',
]);
/** Keys of conf/config_schema.py's flat shape. */
const FLAT_MARKERS = new Set(['APP_PORT', 'FLASK_APP', 'FLASK_DEBUG', 'APP_ENV', 'REACT_PORT', 'POSTGRES_USER', 'POSTGRES_PASSWORD', 'DB_PORT', 'KRATOS_PUBLIC_PORT', 'INSTALL_DIR']);
/** Nested keys of the shape STING-CE's architecture guide shows. */
const DOC_MARKERS: readonly Path[] = [['app', 'flask'], ['auth', 'kratos'], ['database', 'postgresql'], ['database', 'host'], ['database', 'name'], ['observability', 'enabled'], ['observability', 'grafana', 'enabled'], ['observability', 'loki', 'enabled'], ['frontend', 'react'], ['redis', 'host'], ['vault', 'host']];
const MSTING_TOP = new Set(['project', 'profile', 'hostname', 'network', 'app', 'auth', 'database', 'vault', 'redis', 'mail', 'frontend', 'llm', 'observability', 'images', 'ports', 'resources', 'stop_timeout', 'profiles']);

const SECRET_NAME = /(^|_)(password|passwd|secret|secret_key|token|api_key|apikey|private_key|client_secret|connection_uri|dsn|license_key)$/i;
const SECRET_VALUE = /^[a-z][a-z0-9+.-]*:\/\/[^/\s:@]+:[^/\s@]+@|^(hf_[A-Za-z0-9]{20,}|sk-[A-Za-z0-9_-]{16,}|hvs\.[A-Za-z0-9_-]{20,})$/i;

/**
 * Names the shape of a parsed YAML document, or throws exit 3 with what it looks like instead.
 * `source` names the file in the message.
 */
export function detectStingShape(doc: unknown, source: string): StingShape {
  if (doc === null || doc === undefined) {
    throw importError(`${source} is empty`, 'give the conf/config.yml of a STING-CE install');
  }
  if (!isPlain(doc)) {
    throw importError(`${source} is YAML, but a ${Array.isArray(doc) ? 'list' : 'single value'}, not a STING-CE config (a mapping of sections)`, 'give the conf/config.yml of a STING-CE install');
  }
  const keys = Object.keys(doc);
  if (keys.some((k) => FLAT_MARKERS.has(k)) && keys.every((k) => /^[A-Z][A-Z0-9_]*$/.test(k))) return 'sting-ce-flat';
  if (keys.some((k) => STING_SECTIONS.has(k)) || DOC_MARKERS.some((p) => getIn(doc, p) !== undefined)) return 'sting-ce';
  if (keys.length > 0 && keys.every((k) => MSTING_TOP.has(k))) {
    throw importError(`${source} looks like msting's own config.yml, not STING-CE's`, `there is nothing to import: check it with \`msting --config ${source} config validate\` and copy it to conf/config.yml`);
  }
  throw importError(
    `${source} is YAML of another shape: none of STING-CE's sections (system, application, kratos, llm_service, monitoring, ...) is in it`,
    'give the conf/config.yml of a STING-CE install (STING-CE keeps it in conf/ of its install directory)',
  );
}

/** Maps a STING-CE config document to msting's config. See the module comment. */
export function importStingConfig(doc: unknown, source: string, options: ImportOptions = {}): ImportResult {
  const shape = detectStingShape(doc, source);
  const run = new Importer(doc as Plain, options.env ?? {});
  if (shape === 'sting-ce-flat') run.mapFlat();
  else run.mapSections();
  if (options.sourceTree !== undefined) run.mapSourceTree(options.sourceTree);
  run.dropRest(shape);
  return run.finish(shape);
}

/**
 * The text of the imported config.yml: a header saying where it came from, then the config,
 * each imported value followed by the STING-CE key it came from.
 */
export function renderImportedConfig(result: ImportResult, header: { source: string; schemaLocation: string; date: string; version: string }): string {
  const doc = new Document(result.config);
  for (const entry of result.mapped) {
    const node = doc.getIn(splitPath(entry.to), true) as Node | undefined;
    if (node === undefined) continue;
    const comment = ` from ${entry.from}`;
    if (isScalar(node)) node.comment = node.comment ? `${node.comment};${comment}` : comment;
    else if (isCollection(node) && !node.commentBefore) node.commentBefore = comment;
  }
  const lines = [
    `# yaml-language-server: $schema=${header.schemaLocation}`,
    '#',
    `# msting config.yml, imported from the STING-CE config ${header.source}`,
    `# by \`msting config import\` (msting ${header.version}) on ${header.date}.`,
    '# Comments name the STING-CE key each value came from. Keys not written here have msting\'s',
    '# defaults (`msting config show`). Secrets were not copied: the import report said where each goes.',
    '',
  ];
  return `${lines.join('\n')}\n${doc.toString({ lineWidth: 0 })}`;
}

class Importer {
  readonly mapped: MappedKey[] = [];
  readonly dropped: DroppedKey[] = [];
  readonly config: Plain = {};
  private readonly consumed = new Set<string>();

  constructor(
    private readonly doc: Plain,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  mapSections(): void {
    // Host name: one value drives every URL in msting.
    for (const path of [['system', 'domain'], ['application', 'ssl', 'domain'], ['kratos', 'cookie_domain']] as Path[]) this.take(path, 'hostname', asText);
    this.take(['system', 'ports', 'frontend'], 'ports.frontend', asPort);
    this.take(['frontend', 'react', 'port'], 'ports.frontend', asPort);
    this.take(['system', 'ports', 'api'], 'ports.app', asPort);
    this.take(['app', 'flask', 'port'], 'ports.app', asPort);
    this.take(['system', 'ports', 'kratos'], 'ports.kratos', asPort);

    for (const base of [['application'], ['app', 'flask'], ['app']] as Path[]) {
      this.take([...base, 'env'], 'app.env', asAppEnv);
      this.take([...base, 'debug'], 'app.debug', asBool);
    }
    for (const path of [['logging', 'level'], ['monitoring', 'logging', 'level'], ['application', 'log_level']] as Path[]) this.take(path, 'app.log_level', asLogLevel);
    this.take(['honey_reserve', 'file_upload', 'max_file_size'], 'app.max_upload_mb', asMegabytes);

    for (const base of [['database'], ['database', 'postgresql']] as Path[]) {
      this.take([...base, 'max_connections'], 'database.max_connections', asInt);
      this.take([...base, 'shared_buffers'], 'database.shared_buffers', asText);
    }
    this.take(['redis', 'maxmemory'], 'redis.maxmemory', asText);
    this.take(['redis', 'maxmemory_policy'], 'redis.maxmemory_policy', asText);

    this.mapAuth();
    this.mapMail();
    this.mapModels();
    for (const base of [['observability'], ['monitoring', 'observability']] as Path[]) this.mapObservability(base);
  }

  private mapAuth(): void {
    for (const method of ['password', 'webauthn', 'code', 'totp'] as const) {
      this.take(['kratos', 'methods', method, 'enabled'], `auth.methods.${method}`, asBool);
    }
    this.take(['features', 'passwordless'], 'auth.methods.code', asBool, 'STING-CE\'s passwordless sign-in is the email code');
    this.take(['features', 'webauthn'], 'auth.methods.webauthn', asBool);
    this.take(['features', 'mfa'], 'auth.methods.totp', asBool, 'the second factor msting offers besides passkeys is TOTP');
    this.take(['kratos', 'session', 'lifespan'], 'auth.session_lifetime', asDuration);
    this.take(['auth', 'kratos', 'session', 'lifespan'], 'auth.session_lifetime', asDuration);
    this.take(['security', 'session', 'max_age'], 'auth.session_lifetime', asDuration, 'STING-CE\'s session max age, in seconds');
    this.take(['kratos', 'session', 'idle_timeout'], 'auth.session_idle_timeout', asDuration);
    this.take(['kratos', 'default_role'], 'auth.default_role', asText);
  }

  /** STING-CE has a development (Mailpit) and a production SMTP section; its mode picks one. */
  private mapMail(): void {
    for (const root of ['email_service', 'email']) {
      if (!isPlain(this.doc[root])) continue;
      const mode = this.resolve(this.get([root, 'mode'])).value;
      const active = mode === 'production' ? 'production' : 'development';
      const smtp: Path = root === 'email_service' && active === 'production' ? [root, 'production', 'smtp'] : [root, active];
      this.take([...smtp, 'host'], 'mail.smtp.host', asText);
      this.take([...smtp, 'port'], 'mail.smtp.port', asPort);
      this.take([...smtp, 'username'], 'mail.smtp.username', asText);
      this.take([...smtp, 'from_address'], 'mail.from_address', asText);
      this.take([...smtp, 'from_name'], 'mail.from_name', asText);
      const tls = asBool(this.resolve(this.get([...smtp, 'tls_enabled'])).value) ?? asBool(this.resolve(this.get([...smtp, 'use_tls'])).value);
      const starttls = asBool(this.resolve(this.get([...smtp, 'starttls_enabled'])).value);
      const tlsKey = [...smtp, this.get([...smtp, 'tls_enabled']) !== undefined ? 'tls_enabled' : 'use_tls'];
      if (tls !== undefined) {
        // STING-CE's loader: port 465 means TLS from the first byte, otherwise STARTTLS when enabled.
        const port = asPort(this.resolve(this.get([...smtp, 'port'])).value);
        const value = !tls && starttls !== true ? 'none' : port === 465 ? 'tls' : 'starttls';
        this.take(tlsKey, 'mail.smtp.tls', () => value, `from ${String(tlsKey.at(-1))} ${String(tls)}${starttls === undefined ? '' : `, starttls_enabled ${String(starttls)}`} and the port`);
        if (starttls !== undefined) this.dropKey([...smtp, 'starttls_enabled'], `folded into mail.smtp.tls with ${tlsKey.join('.')}`);
      }
      const inactive = active === 'production' ? 'development' : 'production';
      if (this.get([root, inactive]) !== undefined) {
        this.dropSection([root, inactive], `${root}.mode is ${active}, so STING-CE did not use this section; to send through it, set mail.smtp.* to these values`);
      }
    }
  }

  private mapModels(): void {
    const models: ImportedModel[] = [];
    const add = (path: Path, name: string, spec: Plain): void => {
      const model = this.modelFrom(path, name, spec, new Set(models.map((m) => String(m.item.name))));
      if (model) models.push(model);
    };
    const stingModels = this.get(['llm_service', 'models']);
    if (isPlain(stingModels)) for (const [name, spec] of Object.entries(stingModels)) add(['llm_service', 'models', name], name, isPlain(spec) ? spec : {});
    const docModels = this.get(['llm', 'models']);
    if (Array.isArray(docModels)) {
      docModels.forEach((spec, i) => {
        const name = isPlain(spec) ? this.resolve(spec.name).value : undefined;
        if (typeof name === 'string' && name !== '') add(['llm', 'models', i], name, spec as Plain);
        else this.dropSection(['llm', 'models', i], 'a model without a name');
      });
    }
    if (models.length > 0) {
      setIn(this.config, ['llm', 'models'], models.map((m) => m.item));
      models.forEach((m, i) => {
        for (const f of m.sources) this.mapped.push({ from: f.from, to: `llm.models.${i}.${f.key}`, value: m.item[f.key], ...(f.note ? { note: f.note } : {}) });
      });
    }
    for (const path of [['llm_service', 'hardware', 'device'], ['llm_service', 'performance', 'device']] as Path[]) this.take(path, 'llm.device', asEnum(['auto', 'cuda', 'rocm', 'mps', 'cpu']));
    for (const path of [['llm_service', 'hardware', 'precision'], ['llm_service', 'performance', 'precision']] as Path[]) this.take(path, 'llm.precision', asEnum(['auto', 'bf16', 'fp16', 'int8', 'int4']));
    this.take(['llm_service', 'gateway', 'timeout'], 'llm.gateway.read_timeout', asDuration, 'seconds');

    // The model the gateway answers with: the first of STING-CE's choices that is an enabled model here.
    const enabled = new Set(
      (models.length > 0 ? models.map((m) => m.item) : DEFAULT_MODELS).filter((m) => m.enabled !== false).map((m) => String(m.name)),
    );
    for (const path of [['llm_service', 'default_model'], ['llm', 'default_model'], ['chatbot', 'model'], ['llm_service', 'routing', 'default_model']] as Path[]) {
      const raw = this.get(path);
      if (raw === undefined || this.consumed.has(key(path))) continue;
      const name = modelName(String(this.resolve(raw).value));
      if (name !== undefined && enabled.has(name)) this.take(path, 'llm.default_model', () => name);
      else this.dropKey(path, `not the name of an enabled model in llm.models (${[...enabled].join(', ') || 'none'})`);
    }
    const chosen = getIn(this.config, ['llm', 'default_model']);
    if (chosen === undefined && models.length > 0 && !enabled.has('phi3') && enabled.size > 0) {
      const first = [...enabled][0]!;
      setIn(this.config, ['llm', 'default_model'], first);
      this.mapped.push({ from: 'llm_service.models', to: 'llm.default_model', value: first, note: 'the first enabled imported model (msting\'s default, phi3, is not among them)' });
    }
  }

  /** One msting model from a STING-CE model entry, or undefined (then dropped with the reason). */
  private modelFrom(path: Path, rawName: string, spec: Plain, taken: ReadonlySet<string>): ImportedModel | undefined {
    const name = modelName(rawName);
    const at = key(path);
    if (name === undefined) {
      this.dropSection(path, `"${rawName}" cannot be made a msting model name (lower-case letters, digits and dashes, starting with a letter)`);
      return undefined;
    }
    if (taken.has(name)) {
      this.dropSection(path, `a model named ${name} was already imported`);
      return undefined;
    }
    const from: ImportedModel['sources'] = [];
    const pathValue = this.resolve(spec.path ?? spec.repo ?? spec.model_name).value;
    const pathKey = spec.path !== undefined ? 'path' : spec.repo !== undefined ? 'repo' : spec.model_name !== undefined ? 'model_name' : undefined;
    const known = DEFAULT_MODELS.find((m) => m.name === name);
    let repo: string;
    if (typeof pathValue === 'string' && /^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$/.test(pathValue)) {
      repo = pathValue;
      from.push({ key: 'repo', from: `${at}.${pathKey!}` });
    } else if (pathKey === undefined && known) {
      repo = known.repo;
      from.push({ key: 'repo', from: at, note: `msting's repository for ${name}` });
    } else {
      const why = pathKey === undefined ? 'it names no Hugging Face repository' : `${pathKey} ${JSON.stringify(pathValue)} is a folder inside STING-CE's container, not a Hugging Face repository`;
      this.dropSection(path, `${why}; add the model with its repository: \`msting config set llm.models.N.repo ORG/NAME\``);
      return undefined;
    }
    const enabled = spec.enabled === undefined ? true : asBool(this.resolve(spec.enabled).value);
    const item: Plain = { name, repo, enabled: enabled ?? true };
    from.push({ key: 'name', from: spec.name !== undefined ? `${at}.name` : at, ...(name !== rawName ? { note: `renamed from "${rawName}": msting model names are lower-case letters, digits and dashes` } : {}) });
    // What msting knows about its own default repositories (gated licence, files to skip) still holds.
    const base = known && known.repo === repo ? known : undefined;
    if (base?.gated || repo.startsWith('meta-llama/')) item.gated = true;
    if (base && base.exclude.length > 0) item.exclude = base.exclude;
    if (base?.parameters_b) item.parameters_b = base.parameters_b;
    from.push({ key: 'enabled', from: spec.enabled === undefined ? at : `${at}.enabled`, ...(spec.enabled === undefined ? { note: 'STING-CE enables a listed model unless it says enabled: false' } : {}) });
    const size = parseBillions(this.resolve(spec.size).value);
    if (size !== undefined) {
      item.parameters_b = size;
      from.push({ key: 'parameters_b', from: `${at}.size` });
    }
    const memory = this.resolve(spec.memory_limit).value;
    if (typeof memory === 'string' && memory !== '') {
      item.memory_limit = memory;
      from.push({ key: 'memory_limit', from: `${at}.memory_limit` });
    }
    const precision = this.resolve(spec.precision).value;
    if (precision === 'int8' || precision === 'int4') {
      item.quantization = precision;
      from.push({ key: 'quantization', from: `${at}.precision` });
    }
    const parsed = modelSchema.safeParse(item);
    if (!parsed.success) {
      this.dropSection(path, `msting rejects it: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
      return undefined;
    }
    // The model's own key (`at`) stays unconsumed, so its other keys are still reported.
    for (const f of from) if (f.from !== at) this.consumed.add(f.from);
    this.consumed.add(`${at}.name`);
    if (size === undefined && spec.size !== undefined) this.dropKey([...path, 'size'], `"${String(spec.size)}" is not a parameter count such as 7B or 1.1B`);
    return { item, sources: from };
  }

  private mapObservability(base: Path): void {
    if (!isPlain(this.get(base))) return;
    const enabled = asBool(this.resolve(this.get([...base, 'enabled'])).value);
    if (enabled === true) this.take([...base, 'enabled'], 'profile', () => 'observability', 'observability on: the observability profile starts Loki, Promtail and Grafana with the core');
    this.take([...base, 'grafana', 'port'], 'ports.grafana', asPort);
    this.take([...base, 'grafana', 'anonymous_viewer'], 'observability.grafana.anonymous_viewer', asBool);
    this.take([...base, 'loki', 'port'], 'ports.loki', asPort);
    this.take([...base, 'loki', 'storage', 'retention_period'], 'observability.loki.retention', asDuration);
    this.take([...base, 'loki', 'retention_period'], 'observability.loki.retention', asDuration);
    this.take([...base, 'promtail', 'port'], 'ports.promtail', asPort);
    this.take([...base, 'promtail', 'pii_sanitization'], 'observability.promtail.pii_sanitization', asBool);
    this.take([...base, 'promtail', 'sanitization', 'enabled'], 'observability.promtail.pii_sanitization', asBool);
    if (base[0] === 'monitoring') {
      // STING-CE's config_loader.py reads the top-level `observability`, not this nested copy.
      const note = 'nested under monitoring, where STING-CE\'s loader does not read it (it reads a top-level observability)';
      for (const m of this.mapped) if (m.from.startsWith('monitoring.observability.') && !m.note) m.note = note;
    }
  }

  mapFlat(): void {
    this.take(['APP_ENV'], 'app.env', asAppEnv);
    this.take(['FLASK_DEBUG'], 'app.debug', asBool);
    this.take(['APP_PORT'], 'ports.app', asPort);
    this.take(['REACT_PORT'], 'ports.frontend', asPort);
    this.take(['KRATOS_PUBLIC_PORT'], 'ports.kratos', asPort);
    this.take(['KRATOS_ADMIN_PORT'], 'ports.kratos-admin', asPort);
  }

  mapSourceTree(dir: string): void {
    setIn(this.config, ['images', 'source_dir'], dir);
    this.mapped.push({
      from: FILE_LOCATION,
      to: 'images.source_dir',
      value: dir,
      note: 'the file lies in conf/ of a STING-CE source tree, whose Dockerfiles STING-CE built its images from; msting builds them from there too',
    });
  }

  /** Every key no mapping consumed: secrets on their own, sections and keys with their reason. */
  dropRest(shape: StingShape): void {
    const walk = (node: unknown, path: Path): void => {
      const at = key(path);
      if (path.length > 0 && this.consumed.has(at)) return;
      if (path.length > 0) {
        const unknownSection = path.length === 1 && shape === 'sting-ce' && !STING_SECTIONS.has(String(path[0])) && !MSTING_TOP.has(String(path[0]));
        const reason =
          shape === 'sting-ce-flat'
            ? flatReason(String(path[0]))
            : (reasonFor(path) ?? (unknownSection ? `a section STING-CE's loader does not read; ${NO_EQUIVALENT}` : undefined));
        if (reason !== undefined) {
          this.dropSection(path, reason);
          return;
        }
      }
      if (isPlain(node) && Object.keys(node).length > 0) {
        for (const [k, v] of Object.entries(node)) walk(v, [...path, k]);
      } else if (Array.isArray(node) && node.length > 0 && node.some((v) => isPlain(v) || Array.isArray(v))) {
        node.forEach((v, i) => walk(v, [...path, i]));
      } else if (path.length > 0) {
        this.dropSection(path, NO_EQUIVALENT);
      }
    };
    walk(this.doc, []);
  }

  finish(shape: StingShape): ImportResult {
    // The result must pass msting's validation; a value it rejects moves to dropped with the message.
    let warnings: string[] = [];
    for (let round = 0; round < 20; round++) {
      const result = validateConfigText(new Document(this.config).toString());
      warnings = result.warnings.map((w) => `${w.path}: ${w.message}`);
      if (result.errors.length === 0) break;
      for (const error of result.errors) {
        const hit = this.mapped.filter((m) => m.to === error.path || m.to.startsWith(`${error.path}.`) || error.path.startsWith(`${m.to}.`));
        const modelHit = error.path.startsWith('llm.models') ? this.mapped.filter((m) => m.to.startsWith('llm.models.')) : [];
        const victims = hit.length > 0 ? hit : modelHit;
        if (victims.length === 0) {
          throw new MstingError('FAILURE', `internal error: the imported config is invalid at ${error.path}: ${error.message}`, { hint: 'report it with the STING-CE config (secrets removed)' });
        }
        for (const victim of victims) {
          const to = victim.to.startsWith('llm.models.') ? 'llm.models' : victim.to;
          unsetIn(this.config, splitPath(to));
          this.mapped.splice(this.mapped.indexOf(victim), 1);
          this.dropped.push({ from: victim.from, reason: `msting rejects it for ${to}: ${error.message}${error.hint ? ` (${error.hint})` : ''}`, secret: false, value: victim.value });
        }
      }
    }
    // Report in the order of the source file, so the report reads alongside it.
    const order = new Map<string, number>();
    const leaves: { path: Path; value: unknown }[] = [];
    collectLeaves(this.doc, [], leaves);
    leaves.forEach((leaf, i) => {
      for (let n = leaf.path.length; n > 0; n--) {
        const k = key(leaf.path.slice(0, n));
        if (!order.has(k)) order.set(k, i);
      }
    });
    const rank = (from: string) => order.get(from) ?? Number.MAX_SAFE_INTEGER;
    const byOrder = <T extends { from: string }>(list: T[]) => list.map((e, i) => ({ e, i })).sort((a, b) => rank(a.e.from) - rank(b.e.from) || a.i - b.i).map((x) => x.e);
    return { shape, config: this.config as ConfigInput, mapped: byOrder(this.mapped), dropped: byOrder(this.dropped), warnings };
  }

  // --- primitives ---------------------------------------------------------------------------

  private get(path: Path): unknown {
    return getIn(this.doc, path);
  }

  /** `${VAR:-default}` and `${VAR}` as STING-CE's manager expanded them. */
  private resolve(value: unknown): { value: unknown; template?: string } {
    if (typeof value !== 'string' || !value.includes('${')) return { value };
    const expanded = value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}/g, (_m, name: string, fallback: string | undefined) => {
      const set = this.env[name];
      return set !== undefined && set !== '' ? set : (fallback ?? '');
    });
    return { value: expanded, template: value };
  }

  /**
   * Map one source key: convert its value and set it at `to`, unless the key is absent, secret,
   * already consumed, or the value does not convert (then it is dropped with the reason).
   * A second source for a msting key that is already set is dropped, naming the first.
   */
  private take(path: Path, to: string, convert: (v: unknown) => unknown, note?: string): void {
    const raw = this.get(path);
    const at = key(path);
    if (raw === undefined || raw === null || this.consumed.has(at) || isPlain(raw) || Array.isArray(raw)) return;
    if (isSecret(path, raw)) return; // left to dropRest, which says where the secret goes
    const { value, template } = this.resolve(raw);
    if (value === '') {
      this.dropKey(path, `${template ? `empty: ${template} names an environment variable that is not set here` : 'empty'}, so msting's default applies (\`msting config set ${to} VALUE\` sets one)`);
      return;
    }
    const converted = convert(value);
    if (converted === undefined) {
      const expected = EXPECTED.find(([prefix]) => to === prefix || to.startsWith(`${prefix}.`))?.[1];
      this.dropKey(path, `${JSON.stringify(value)} does not fit ${to}${expected ? ` (${expected})` : ''}`);
      return;
    }
    if (to.startsWith('ports.') && to !== 'ports.frontend') {
      // STING-CE publishes every service on the host; msting only the frontend, unless asked
      // (the Kratos admin API and Mailpit would hand over accounts: docs/security.md).
      this.dropKey(path, `msting publishes only the frontend by default; \`msting config set ${to} ${JSON.stringify(converted)}\` publishes this one (its risk: docs/security.md)`);
      return;
    }
    const existing = this.mapped.find((m) => m.to === to);
    if (existing) {
      this.dropKey(path, existing.value === converted ? `same value as ${existing.from}, already in ${to}` : `msting has one ${to}; it took ${existing.from} (${JSON.stringify(existing.value)})`);
      return;
    }
    setIn(this.config, splitPath(to), converted);
    this.consumed.add(at);
    const notes = [note, template ? `from ${template}` : undefined].filter(Boolean);
    this.mapped.push({ from: at, to, value: converted, ...(notes.length > 0 ? { note: notes.join('; ') } : {}) });
  }

  private dropKey(path: Path, reason: string): void {
    const raw = this.get(path);
    if (raw === undefined || this.consumed.has(key(path))) return;
    this.dropSection(path, reason);
  }

  /** Drop a key or a whole section; secret-like keys inside get their own entry with where they go. */
  private dropSection(path: Path, reason: string): void {
    const node = this.get(path);
    const at = key(path);
    const leaves: { path: Path; value: unknown }[] = [];
    collectLeaves(node, path, leaves);
    const plain: string[] = [];
    for (const leaf of leaves) {
      const k = key(leaf.path);
      if (this.consumed.has(k)) continue;
      this.consumed.add(k);
      if (isSecret(leaf.path, leaf.value)) this.dropped.push({ from: k, reason: secretReason(leaf.path, leaf.value), secret: true });
      else plain.push(k);
    }
    this.consumed.add(at);
    if (plain.length === 0) return;
    if (plain.length === 1 && plain[0] === at) {
      this.dropped.push({ from: at, reason, secret: false, value: node });
    } else {
      this.dropped.push({ from: at, reason, secret: false, keys: plain });
    }
  }
}

// --- values -------------------------------------------------------------------------------------

function asText(v: unknown): string | undefined {
  return typeof v === 'string' ? v.trim() || undefined : typeof v === 'number' ? String(v) : undefined;
}

function asInt(v: unknown): number | undefined {
  const n = typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : v;
  return typeof n === 'number' && Number.isInteger(n) ? n : undefined;
}

function asPort(v: unknown): number | undefined {
  const n = asInt(v);
  return n !== undefined && n >= 1 && n <= 65535 ? n : undefined;
}

function asBool(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string' && /^(true|yes|on|1)$/i.test(v.trim())) return true;
  if (typeof v === 'string' && /^(false|no|off|0)$/i.test(v.trim())) return false;
  return undefined;
}

function asEnum(allowed: readonly string[]) {
  return (v: unknown): string | undefined => {
    const s = typeof v === 'string' ? v.trim().toLowerCase() : undefined;
    return s !== undefined && allowed.includes(s) ? s : undefined;
  };
}

function asAppEnv(v: unknown): string | undefined {
  const s = typeof v === 'string' ? v.trim().toLowerCase() : '';
  return s === 'production' || s === 'prod' ? 'production' : s === 'development' || s === 'dev' ? 'development' : undefined;
}

function asLogLevel(v: unknown): string | undefined {
  const s = typeof v === 'string' ? v.trim().toLowerCase() : '';
  return ({ debug: 'debug', info: 'info', warn: 'warning', warning: 'warning', error: 'error', critical: 'error' } as Record<string, string>)[s];
}

/** A duration msting accepts (`30m`); a bare number is seconds, as in STING-CE. */
function asDuration(v: unknown): string | undefined {
  if (typeof v === 'string' && /^(\d+(ms|s|m|h|d))+$/.test(v.trim())) return v.trim();
  const seconds = asInt(v);
  if (seconds === undefined || seconds <= 0) return undefined;
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60]] as const) if (seconds % size === 0) return `${seconds / size}${unit}`;
  return `${seconds}s`;
}

/** Bytes to whole megabytes (rounded up), as app.max_upload_mb counts them. */
function asMegabytes(v: unknown): number | undefined {
  const bytes = asInt(v);
  return bytes === undefined || bytes <= 0 ? undefined : Math.ceil(bytes / (1024 * 1024));
}

function parseBillions(v: unknown): number | undefined {
  const m = typeof v === 'string' ? /^(\d+(?:\.\d+)?)\s*([BM])$/i.exec(v.trim()) : null;
  if (!m) return undefined;
  const n = Number(m[1]) / (m[2]!.toUpperCase() === 'M' ? 1000 : 1);
  return n > 0 ? n : undefined;
}

/** A msting model name from a STING-CE one (`phi3_mini` → `phi3-mini`, `deepseek-1.5b` → `deepseek-1-5b`). */
function modelName(raw: string): string | undefined {
  const name = raw.trim().toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/-+/g, '-').replace(/^-|-$/g, '');
  return /^[a-z][a-z0-9-]{0,30}$/.test(name) ? name : undefined;
}

// --- secrets ------------------------------------------------------------------------------------

function isSecret(path: Path, value: unknown): boolean {
  if (typeof value === 'boolean' || value === null || isPlain(value) || Array.isArray(value)) return false;
  const name = String(path.at(-1));
  return SECRET_NAME.test(name) || (typeof value === 'string' && SECRET_VALUE.test(value.trim()));
}

const PROVIDER_NAMES = ['huggingface', 'openai', 'anthropic', 'cohere', 'google', 'groq', 'mistral'];

function secretReason(path: Path, value: unknown): string {
  const at = key(path).toLowerCase();
  const empty = value === '' || value === undefined ? ' (it is empty in this file)' : '';
  const provider = PROVIDER_NAMES.find((p) => at.includes(p)) ?? (/(^|[._])hf_token$/.test(at) ? 'huggingface' : undefined);
  if (provider) return `secret, not copied: store it in Vault with \`msting vault-secret set ${provider}\`${empty}`;
  if (/smtp|email|mail|courier/.test(at)) return `${SMTP_SECRET}${empty}`;
  if (/oidc|client_secret/.test(at)) return `secret, not copied: msting renders no OIDC providers, so nothing needs it${empty}`;
  if (/keycloak|^kc_|keystore/.test(at)) return `secret, not copied: ${KEYCLOAK}${empty}`;
  if (/license/.test(at)) return `not copied: msting installs the Community Edition and reads no license${empty}`;
  if (/postgres|database|db|redis|kratos|flask|session|cookie|cipher|grafana|vault|secret_key/.test(at)) return `${GENERATED}${empty}`;
  return `secret-like, not copied: if a service needs it, keep it in Vault (\`msting vault-secret set NAME\` for an outside provider's API key)${empty}`;
}

// --- paths --------------------------------------------------------------------------------------

function reasonFor(path: Path): string | undefined {
  const segments = path.map(String);
  // The architecture guide's shape nests observability at the top; the shipped file under monitoring.
  const alias = segments[0] === 'monitoring' && segments[1] === 'observability' ? segments.slice(1) : segments;
  for (const [pattern, reason] of REASONS) {
    const parts = pattern.split('.');
    if (parts.length === alias.length && parts.every((p, i) => p === '*' || p === alias[i])) return reason;
  }
  return undefined;
}

function flatReason(name: string): string {
  return FLAT_REASONS.find(([re]) => re.test(name))?.[1] ?? NO_EQUIVALENT;
}

function collectLeaves(node: unknown, path: Path, out: { path: Path; value: unknown }[]): void {
  if (isPlain(node) && Object.keys(node).length > 0) for (const [k, v] of Object.entries(node)) collectLeaves(v, [...path, k], out);
  else if (Array.isArray(node) && node.some((v) => isPlain(v) || Array.isArray(v))) node.forEach((v, i) => collectLeaves(v, [...path, i], out));
  else out.push({ path, value: node });
}

function key(path: Path): string {
  return path.map(String).join('.');
}

/** A dotted msting key into segments, list indexes as numbers. */
function splitPath(dotted: string): Path {
  return dotted.split('.').map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

function isPlain(v: unknown): v is Plain {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function getIn(root: unknown, path: Path): unknown {
  let node = root;
  for (const segment of path) {
    if (isPlain(node)) node = node[String(segment)];
    else if (Array.isArray(node) && typeof segment === 'number') node = node[segment];
    else return undefined;
  }
  return node;
}

function setIn(root: Plain, path: Path, value: unknown): void {
  let node: Plain = root;
  for (const segment of path.slice(0, -1)) {
    const next = node[String(segment)];
    if (!isPlain(next)) node[String(segment)] = {};
    node = node[String(segment)] as Plain;
  }
  node[String(path.at(-1))] = value;
}

function unsetIn(root: Plain, path: Path): void {
  const parents: Plain[] = [root];
  let node: unknown = root;
  for (const segment of path.slice(0, -1)) {
    node = isPlain(node) ? node[String(segment)] : undefined;
    if (!isPlain(node)) return;
    parents.push(node);
  }
  delete parents.at(-1)![String(path.at(-1))];
  // Remove sections left empty, so the file has no `auth: {}`.
  for (let i = parents.length - 1; i > 0; i--) {
    if (Object.keys(parents[i]!).length === 0) delete parents[i - 1]![String(path[i - 1])];
  }
}

function importError(message: string, hint: string): MstingError {
  return new MstingError('CONFIG_INVALID', message, { hint, exitCode: ExitCode.invalidConfig });
}
