import { compareText } from '../compare.js';
import type { MstingConfig } from '../config/schema.js';
import { DATABASE_NAMES, DATABASE_ROLES, DATABASE_USERS, databasePasswordVariable, serviceTokenSecretId, type DatabaseUser, type SecretsProvider } from '../stack/secrets.js';
import { APP_HOME, CHATBOT_PORT, EXTERNAL_AI_PORT, MODEL_CONTAINER_PORT, MODELS_MOUNT, type ServicePlan, type StackPlan } from '../stack/plan.js';
import { MAILPIT_BROWSER_PATH, MAILPIT_UI_USER, derivePublicUrls, type PublicUrls } from '../stack/urls.js';
import { formatEnvFile } from './env-format.js';

/**
 * One env file per service, holding only what that service needs: settings derived from
 * config.yml (every URL from the one hostname) and the secrets SECRET_SPECS lists for it. A
 * secret the provider does not have yet is left out and reported as pending.
 */

export interface PendingSecret {
  /** SECRET_SPECS id, or `vault-ref:PATH#KEY` for a reference in config.yml. */
  id: string;
  services: string[];
}

export interface EnvFilesResult {
  /** Service name → env file content. */
  files: Map<string, string>;
  pending: PendingSecret[];
}

/** SMTP password for a relay that needs a login: stored in Vault at this path and key. */
export const SMTP_PASSWORD_REF = { path: 'mail/smtp', key: 'password' } as const;

/**
 * Redis takes no password: STING-CE's clients connect without one (several hard-code
 * `redis://redis:6379/0`), so Redis is kept unreachable instead: never published, on the private
 * network only.
 */
function redisUrl(db: number): string {
  return `redis://redis:6379/${db}`;
}

/** The URL a service connects to its database with: its own role, its own database. */
export function postgresUrl(user: DatabaseUser, password: string, scheme = 'postgresql'): string {
  return `${scheme}://${DATABASE_ROLES[user]}:${encodeURIComponent(password)}@db:5432/${DATABASE_NAMES[user]}`;
}

/**
 * The variable each service reads its database URL from (external_ai_service/conversation_store.py
 * reads MESSAGING_DATABASE_URL; the others DATABASE_URL). Kratos takes a DSN of its own.
 */
export const DATABASE_URL_VARIABLE: Partial<Record<DatabaseUser, string>> = {
  app: 'DATABASE_URL',
  messaging: 'DATABASE_URL',
  knowledge: 'DATABASE_URL',
  chatbot: 'DATABASE_URL',
  'external-ai': 'MESSAGING_DATABASE_URL',
};

/**
 * Redis database number per client that reads REDIS_URL. The app's is 0 because its own
 * hard-coded clients use 0; the chatbot (2) and external-ai (1 and 3) choose theirs in code.
 */
const REDIS_DB: Record<string, number> = { app: 0, knowledge: 4, messaging: 5 };

/**
 * Kratos inside the stack, as STING-CE's services call it: over TLS on both ports (their
 * defaults; app/routes/aal2_routes.py and app/utils/kratos_auth_decorator.py even hard-code
 * https://kratos:4433), so one scheme works for every caller.
 */
const KRATOS_PUBLIC_INTERNAL = 'https://kratos:4433';
const KRATOS_ADMIN_INTERNAL = 'https://kratos:4434';
const KNOWLEDGE_URL = 'http://knowledge:8090';
const MESSAGING_URL = 'http://messaging:8889';
const LLM_GATEWAY_URL = 'http://llm-gateway:8080';
const CHATBOT_URL = `http://chatbot:${CHATBOT_PORT}`;
const EXTERNAL_AI_URL = `http://external-ai:${EXTERNAL_AI_PORT}`;

class EnvBuilder {
  readonly entries: Record<string, string> = {};
  constructor(
    private readonly service: string,
    private readonly secrets: SecretsProvider,
    private readonly pending: Map<string, Set<string>>,
  ) {}

  set(name: string, value: string | number | boolean): this {
    this.entries[name] = String(value);
    return this;
  }

  /** Set a variable from a secret, or record the secret as pending. */
  secret(id: string, name: string, derive: (value: string) => string = (v) => v): this {
    const value = this.secrets.get(id);
    if (value === undefined) this.markPending(id);
    else this.entries[name] = derive(value);
    return this;
  }

  markPending(id: string): void {
    const users = this.pending.get(id) ?? new Set<string>();
    users.add(this.service);
    this.pending.set(id, users);
  }
}

/**
 * What every STING-CE Python service gets: TZ, and its database through the generic database
 * users (DATABASE_USERS); the rest each service gets for itself below, only what its code reads
 * (docs/sting-ce.md lists each variable with the file that reads it).
 */
function stingCommon(env: EnvBuilder, service: ServicePlan): DatabaseUser | undefined {
  env.set('TZ', 'UTC');
  const redisDb = REDIS_DB[service.name];
  if (redisDb !== undefined) env.set('REDIS_URL', redisUrl(redisDb));
  return databaseEnv(env, service);
}

/** A service's database URL (its own role and database), in the variable its code reads; returns its user. */
/**
 * What chromadb's client Settings read from the environment: STING-CE's Chroma clients build
 * `chromadb.HttpClient(host, port[, settings=Settings(anonymized_telemetry=False)])`, and
 * Settings fills every field not passed from the variable of that name, so they send the token.
 */
function chromaClient(env: EnvBuilder): void {
  env.set('CHROMA_CLIENT_AUTH_PROVIDER', 'chromadb.auth.token_authn.TokenAuthClientProvider');
  env.secret('chroma.token', 'CHROMA_CLIENT_AUTH_CREDENTIALS');
}

function databaseEnv(env: EnvBuilder, service: ServicePlan): DatabaseUser | undefined {
  const user = DATABASE_USERS.find((u) => u === service.name);
  const variable = user && DATABASE_URL_VARIABLE[user];
  if (user && variable) env.secret(`db.${user}`, variable, (pw) => postgresUrl(user, pw));
  return user;
}

function smtpUri(config: MstingConfig, env: EnvBuilder, secrets: SecretsProvider): string | undefined {
  const smtp = config.mail.smtp;
  const scheme = smtp.tls === 'tls' ? 'smtps' : 'smtp';
  const query = smtp.tls === 'none' ? '?disable_starttls=true' : '';
  const host = smtp.host.includes(':') ? `[${smtp.host}]` : smtp.host;
  let auth = '';
  if (smtp.username !== undefined) {
    const password = secrets.resolveRef(SMTP_PASSWORD_REF.path, SMTP_PASSWORD_REF.key);
    if (password === undefined) {
      env.markPending(`vault-ref:${SMTP_PASSWORD_REF.path}#${SMTP_PASSWORD_REF.key}`);
      return undefined;
    }
    auth = `${encodeURIComponent(smtp.username)}:${encodeURIComponent(password)}@`;
  }
  return `${scheme}://${auth}${host}:${smtp.port}/${query}`;
}

function serviceEnv(service: ServicePlan, config: MstingConfig, urls: PublicUrls, env: EnvBuilder, secrets: SecretsProvider): void {
  switch (service.name) {
    case 'vault':
      env.set('VAULT_ADDR', 'http://127.0.0.1:8200').set('VAULT_API_ADDR', 'http://vault:8200').set('SKIP_SETCAP', 'true');
      // A dev server starts with the root token msting generated and keeps in secrets/.
      if (config.vault.mode === 'dev') env.secret('vault.dev_root_token', 'VAULT_DEV_ROOT_TOKEN_ID');
      return;
    case 'db':
      env.set('POSTGRES_USER', 'postgres').set('POSTGRES_DB', 'postgres').set('PGDATA', '/var/lib/postgresql/data/pgdata');
      env.secret('db.postgres', 'POSTGRES_PASSWORD');
      for (const user of DATABASE_USERS) env.secret(`db.${user}`, databasePasswordVariable(user));
      return;
    case 'redis':
      // Its settings are in its command line (see the plan); it has no password.
      env.set('TZ', 'UTC');
      return;
    case 'kratos-migrate':
      env.secret('db.kratos', 'DSN', (pw) => `${postgresUrl('kratos', pw, 'postgres')}?sslmode=disable`);
      return;
    case 'kratos': {
      env.secret('db.kratos', 'DSN', (pw) => `${postgresUrl('kratos', pw, 'postgres')}?sslmode=disable&max_conns=20&max_idle_conns=4`);
      env.secret('kratos.cookie', 'SECRETS_COOKIE');
      env.secret('kratos.cipher', 'SECRETS_CIPHER');
      env.secret('kratos.default', 'SECRETS_DEFAULT');
      const uri = smtpUri(config, env, secrets);
      if (uri !== undefined) env.set('COURIER_SMTP_CONNECTION_URI', uri);
      return;
    }
    case 'mailpit':
      env
        .set('MP_DATABASE', '/data/mailpit.db')
        .set('MP_SMTP_AUTH_ACCEPT_ANY', 'true')
        .set('MP_SMTP_AUTH_ALLOW_INSECURE', 'true')
        .set('MP_WEBROOT', MAILPIT_BROWSER_PATH)
        .set('TZ', 'UTC');
      // The UI shows every sign-in code: it asks for a password, here and behind the frontend.
      env.secret('mailpit.ui', 'MP_UI_AUTH', (pw) => `${MAILPIT_UI_USER}:${pw}`);
      return;
    case 'app':
      stingCommon(env, service);
      env
        .set('APP_ENV', config.app.env)
        .set('FLASK_ENV', config.app.env)
        .set('APP_PORT', 5050)
        // create_app reads the certificate for this name (app/__init__.py); with `localhost` it
        // looks in ~/.sting/certs, where the stack's certificate is mounted.
        .set('DOMAIN_NAME', urls.hostname)
        .set('STING_HOSTNAME', urls.hostname)
        .set('HOME', APP_HOME)
        .set('STING_INSTALL_DIR', APP_HOME)
        .set('KRATOS_PUBLIC_URL', KRATOS_PUBLIC_INTERNAL)
        .set('KRATOS_ADMIN_URL', KRATOS_ADMIN_INTERNAL)
        .set('KRATOS_BROWSER_URL', urls.kratosBrowser)
        .set('WEBAUTHN_RP_ID', urls.webauthnRpId)
        .set('WEBAUTHN_RP_NAME', config.mail.from_name)
        .set('HONEY_RESERVE_ENCRYPT_AT_REST', config.app.field_encryption ? 'true' : 'false')
        .set('SMTP_HOST', config.mail.smtp.host)
        .set('KNOWLEDGE_SERVICE_URL', KNOWLEDGE_URL)
        .set('MESSAGING_SERVICE_URL', MESSAGING_URL)
        // The chat path, also in profiles without it: the app asks external-ai first and falls
        // back to the chatbot, answering "unavailable" when neither runs (chatbot_routes.py).
        .set('EXTERNAL_AI_SERVICE_URL', EXTERNAL_AI_URL)
        .set('CHATBOT_SERVICE_URL', CHATBOT_URL)
        .set('NATIVE_LLM_URL', LLM_GATEWAY_URL);
      env.secret('app.flask', 'FLASK_SECRET_KEY');
      env.secret('app.security_salt', 'SECURITY_PASSWORD_SALT');
      // Required by every file upload and download, encrypted at rest or not (honey_reserve_encryption.py).
      env.secret('app.field_key', 'HONEY_RESERVE_MASTER_KEY');
      env.secret('internal.service_token', 'STING_SERVICE_API_KEY');
      // The app's own least-privilege token: STING-CE reads it only from VAULT_TOKEN (conf/vault_manager.py).
      if (service.vaultTokenFile) env.secret(serviceTokenSecretId(service.name), 'VAULT_TOKEN');
      return;
    case 'frontend':
      // The React build's settings are in the rendered env.js; nginx reads only its config.
      env.set('TZ', 'UTC');
      return;
    case 'messaging':
      stingCommon(env, service);
      env.set('CORS_ORIGINS', urls.corsOrigins.join(','));
      return;
    case 'chroma':
      env.set('IS_PERSISTENT', 'TRUE').set('PERSIST_DIRECTORY', '/chroma/chroma').set('ANONYMIZED_TELEMETRY', 'FALSE').set('ALLOW_RESET', 'FALSE');
      // Chroma 0.5's token authentication: every call but the heartbeat needs the bearer token.
      env.set('CHROMA_SERVER_AUTHN_PROVIDER', 'chromadb.auth.token_authn.TokenAuthenticationServerProvider');
      env.secret('chroma.token', 'CHROMA_SERVER_AUTHN_CREDENTIALS');
      return;
    case 'knowledge':
      stingCommon(env, service);
      env
        .set('KNOWLEDGE_HOST', '0.0.0.0')
        .set('KNOWLEDGE_PORT', 8090)
        .set('CHROMA_URL', 'http://chroma:8000')
        .set('KRATOS_PUBLIC_URL', KRATOS_PUBLIC_INTERNAL)
        .set('KRATOS_ADMIN_URL', KRATOS_ADMIN_INTERNAL)
        // Development mode accepts every request as a fixed user (knowledge_service/auth/knowledge_auth.py).
        .set('KNOWLEDGE_DEV_MODE', 'false')
        // Model caches (sentence-transformers, nltk) go under HOME; the root is read-only.
        .set('HOME', '/tmp');
      env.secret('internal.service_token', 'KNOWLEDGE_SYSTEM_API_KEY');
      chromaClient(env);
      return;
    case 'external-ai': {
      const dbUser = stingCommon(env, service);
      env
        .set('EXTERNAL_AI_HOST', '0.0.0.0')
        .set('EXTERNAL_AI_PORT', EXTERNAL_AI_PORT)
        .set('CORS_ORIGINS', urls.corsOrigins.join(','))
        // The gateway answers the OpenAI-compatible API (/v1/models, /v1/chat/completions) it asks.
        .set('OLLAMA_BASE_URL', LLM_GATEWAY_URL)
        .set('KNOWLEDGE_SERVICE_URL', KNOWLEDGE_URL)
        .set('KRATOS_PUBLIC_URL', KRATOS_PUBLIC_INTERNAL)
        .set('KRATOS_ADMIN_URL', KRATOS_ADMIN_INTERNAL)
        .set('REDIS_HOST', 'redis')
        .set('REDIS_PORT', 6379)
        .set('CHROMA_HOST', 'chroma')
        .set('CHROMA_PORT', 8000)
        .set('HOME', '/tmp');
      chromaClient(env);
      // Its conversation store reads this name, not DATABASE_URL (external_ai_service/conversation_store.py).
      if (dbUser) env.secret(`db.${dbUser}`, 'MESSAGING_DATABASE_URL', (pw) => postgresUrl(dbUser, pw));
      return;
    }
    case 'llm-gateway':
      return;
    case 'chatbot':
      // Without DATABASE_URL (from its database user) it falls back to postgres:postgres and
      // crash-loops (chatbot/core/database_manager.py).
      stingCommon(env, service);
      env
        .set('BEE_HOST', '0.0.0.0')
        .set('BEE_PORT', CHATBOT_PORT)
        .set('CHATBOT_MODEL', config.llm.default_model)
        .set('LLM_GATEWAY_URL', LLM_GATEWAY_URL)
        .set('KRATOS_PUBLIC_URL', KRATOS_PUBLIC_INTERNAL)
        .set('KRATOS_ADMIN_URL', KRATOS_ADMIN_INTERNAL)
        .set('MESSAGING_SERVICE_URL', MESSAGING_URL)
        .set('KNOWLEDGE_SERVICE_URL', KNOWLEDGE_URL)
        // Asked first when it runs; otherwise the chatbot goes to the gateway (bee_server.py).
        .set('EXTERNAL_AI_URL', EXTERNAL_AI_URL);
      env.secret('internal.service_token', 'STING_SERVICE_API_KEY');
      return;
    case 'loki':
    case 'promtail':
    case 'log-forwarder':
      env.set('TZ', 'UTC');
      return;
    case 'grafana':
      env
        .set('GF_SECURITY_ADMIN_USER', 'admin')
        .set('GF_AUTH_ANONYMOUS_ENABLED', config.observability.grafana.anonymous_viewer ? 'true' : 'false')
        .set('GF_AUTH_ANONYMOUS_ORG_ROLE', 'Viewer')
        .set('GF_ANALYTICS_REPORTING_ENABLED', 'false')
        .set('GF_ANALYTICS_CHECK_FOR_UPDATES', 'false')
        .set('GF_USERS_ALLOW_SIGN_UP', 'false')
        .set('GF_SECURITY_COOKIE_SECURE', 'false')
        .set('GF_SECURITY_DISABLE_GRAVATAR', 'true')
        .set('GF_PATHS_PROVISIONING', '/etc/grafana/provisioning');
      env.secret('grafana.admin', 'GF_SECURITY_ADMIN_PASSWORD');
      env.secret('grafana.secret_key', 'GF_SECURITY_SECRET_KEY');
      return;
    default:
      if (service.model) {
        const m = service.model;
        // What STING-CE's llm_service reads (server.py, utils/model_lifecycle_manager.py): an
        // absolute MODEL_PATH that is a directory is loaded with local_files_only; anything else
        // is a repository id its Hugging Face library resolves in HF_HUB_CACHE (offline).
        const torchDevice = m.device === 'rocm' ? 'cuda' : m.device;
        env
          .set('MODEL_NAME', m.name)
          .set('MODEL_REPO', m.repo)
          .set('MODEL_REVISION', m.revision)
          .set('MODEL_PATH', m.path)
          .set('STING_MODELS_DIR', MODELS_MOUNT)
          .set('DEVICE_TYPE', torchDevice)
          .set('TORCH_DEVICE', torchDevice)
          .set('TORCH_PRECISION', m.precision === 'bf16' || m.precision === 'fp16' ? m.precision : m.device === 'cpu' ? 'fp32' : 'fp16')
          .set('QUANTIZATION', m.quantization)
          .set('HOST', '0.0.0.0')
          .set('PORT', MODEL_CONTAINER_PORT)
          .set('HF_HUB_CACHE', MODELS_MOUNT)
          .set('HF_HOME', '/tmp/huggingface')
          .set('HF_HUB_OFFLINE', '1')
          .set('TRANSFORMERS_OFFLINE', '1')
          .set('MEMORY_LIMIT_BYTES', service.memoryBytes)
          .set('TZ', 'UTC');
        return;
      }
      throw new Error(`no env file rule for service ${service.name}`);
  }
}

/** Env files for every service of the plan that has settings; services with none get no file. */
export function renderEnvFiles(plan: StackPlan, config: MstingConfig, secrets: SecretsProvider): EnvFilesResult {
  const urls = derivePublicUrls(config);
  const pending = new Map<string, Set<string>>();
  const files = new Map<string, string>();
  for (const service of plan.services) {
    const env = new EnvBuilder(service.name, secrets, pending);
    serviceEnv(service, config, urls, env, secrets);
    if (Object.keys(env.entries).length > 0 || service.secrets.length > 0) files.set(service.name, formatEnvFile(service.name, env.entries));
  }
  return {
    files,
    pending: [...pending]
      .map(([id, users]) => ({ id, services: [...users].sort() }))
      .sort((a, b) => compareText(a.id, b.id)),
  };
}
