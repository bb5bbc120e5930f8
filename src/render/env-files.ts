import type { MstingConfig } from '../config/schema.js';
import { DATABASE_NAMES, DATABASE_ROLES, DATABASE_USERS, databasePasswordVariable, type DatabaseUser, type SecretsProvider } from '../stack/secrets.js';
import { MODEL_CONTAINER_PORT, type ServicePlan, type StackPlan } from '../stack/plan.js';
import { parseDuration, parseMemory, toSeconds } from '../stack/units.js';
import { derivePublicUrls, type PublicUrls } from '../stack/urls.js';
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

function redisUrl(password: string, db: number): string {
  return `redis://:${encodeURIComponent(password)}@redis:6379/${db}`;
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

/** Redis database number per client, so keys of different services never collide. */
const REDIS_DB: Record<string, number> = { app: 0, messaging: 1, knowledge: 2, chatbot: 3 };

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

function stingCommon(env: EnvBuilder, service: ServicePlan, config: MstingConfig, urls: PublicUrls): void {
  env
    .set('TZ', 'UTC')
    .set('STING_HOSTNAME', urls.hostname)
    .set('PUBLIC_URL', urls.frontend)
    .set('CORS_ALLOWED_ORIGINS', urls.corsOrigins.join(','))
    .set('LOG_LEVEL', config.app.log_level.toUpperCase())
    .set('LOG_DIR', '/var/log/sting')
    .set('KRATOS_PUBLIC_URL', urls.kratosPublicInternal)
    .set('KRATOS_BROWSER_URL', urls.kratosBrowser);
  if (service.secrets.includes('internal.service_token')) env.secret('internal.service_token', 'STING_SERVICE_TOKEN');
  if (service.secrets.includes('redis.password')) {
    env.secret('redis.password', 'REDIS_URL', (pw) => redisUrl(pw, REDIS_DB[service.name] ?? 0));
  }
  databaseEnv(env, service.name);
}

/** A service's database URL (its own role and database), in the variable its code reads. */
function databaseEnv(env: EnvBuilder, service: string): void {
  const user = DATABASE_USERS.find((u) => u === service);
  const variable = user && DATABASE_URL_VARIABLE[user];
  if (user && variable) env.secret(`db.${user}`, variable, (pw) => postgresUrl(user, pw));
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

function serviceEnv(service: ServicePlan, plan: StackPlan, config: MstingConfig, urls: PublicUrls, env: EnvBuilder, secrets: SecretsProvider): void {
  const has = (name: string) => plan.services.some((s) => s.name === name);
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
      env.set('REDIS_MAXMEMORY', parseMemory(config.redis.maxmemory)).set('REDIS_MAXMEMORY_POLICY', config.redis.maxmemory_policy);
      env.secret('redis.password', 'REDIS_PASSWORD');
      // redis-cli reads the password from here, so the health check carries none in argv.
      env.secret('redis.password', 'REDISCLI_AUTH');
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
      env.set('MP_DATABASE', '/data/mailpit.db').set('MP_SMTP_AUTH_ACCEPT_ANY', 'true').set('MP_SMTP_AUTH_ALLOW_INSECURE', 'true').set('TZ', 'UTC');
      return;
    case 'app':
      stingCommon(env, service, config, urls);
      env
        .set('FLASK_ENV', config.app.env)
        .set('APP_ENV', config.app.env)
        .set('FLASK_DEBUG', config.app.debug ? '1' : '0')
        .set('APP_PORT', 5050)
        .set('MAX_UPLOAD_MB', config.app.max_upload_mb)
        .set('UPLOAD_DIR', '/app/uploads')
        .set('KRATOS_ADMIN_URL', urls.kratosAdminInternal)
        .set('WEBAUTHN_RP_ID', urls.webauthnRpId)
        .set('WEBAUTHN_RP_NAME', config.mail.from_name)
        .set('WEBAUTHN_ORIGIN', urls.webauthnOrigin)
        .set('SESSION_LIFETIME_SECONDS', toSeconds(parseDuration(config.auth.session_lifetime)))
        .set('SESSION_IDLE_TIMEOUT_SECONDS', toSeconds(parseDuration(config.auth.session_idle_timeout)))
        .set('DEFAULT_ROLE', config.auth.default_role)
        .set('VAULT_ADDR', 'http://vault:8200')
        .set('KNOWLEDGE_SERVICE_URL', 'http://knowledge:8090')
        .set('MESSAGING_SERVICE_URL', 'http://messaging:8889')
        .set('FIELD_ENCRYPTION_ENABLED', config.app.field_encryption ? 'true' : 'false')
        .set('SSL_CERT_FILE_PATH', '/app/certs/server.crt')
        .set('SSL_KEY_FILE_PATH', '/app/certs/server.key');
      if (service.vaultTokenFile) env.set('VAULT_TOKEN_FILE', '/run/secrets/vault-token');
      if (has('chatbot')) env.set('CHATBOT_URL', 'http://chatbot:8081');
      if (has('llm-gateway')) env.set('LLM_GATEWAY_URL', 'http://llm-gateway:8080');
      env.secret('app.flask', 'FLASK_SECRET_KEY');
      if (config.app.field_encryption) env.secret('app.field_key', 'FIELD_ENCRYPTION_KEY');
      return;
    case 'frontend':
      env
        .set('PUBLIC_URL', urls.frontend)
        .set('STING_HOSTNAME', urls.hostname)
        .set('REACT_APP_API_URL', urls.api)
        .set('REACT_APP_KRATOS_PUBLIC_URL', urls.kratosBrowser)
        .set('REACT_APP_KRATOS_BROWSER_URL', urls.kratosBrowser)
        .set('REACT_APP_WEBAUTHN_RP_ID', urls.webauthnRpId)
        .set('NODE_ENV', 'production')
        .set('TZ', 'UTC');
      return;
    case 'messaging':
      stingCommon(env, service, config, urls);
      env.set('MESSAGING_PORT', 8889).set('DATA_DIR', '/app/data');
      return;
    case 'chroma':
      env.set('IS_PERSISTENT', 'TRUE').set('PERSIST_DIRECTORY', '/chroma/chroma').set('ANONYMIZED_TELEMETRY', 'FALSE').set('ALLOW_RESET', 'FALSE');
      return;
    case 'knowledge':
      stingCommon(env, service, config, urls);
      env.set('KNOWLEDGE_PORT', 8090).set('CHROMA_URL', 'http://chroma:8000').set('DATA_DIR', '/app/data');
      return;
    case 'llm-gateway':
      return;
    case 'chatbot':
      stingCommon(env, service, config, urls);
      env
        .set('CHATBOT_PORT', 8081)
        .set('CHATBOT_HEALTH_PORT', 8888)
        .set('CHATBOT_MODEL', config.llm.default_model)
        .set('LLM_GATEWAY_URL', 'http://llm-gateway:8080')
        .set('MESSAGING_SERVICE_URL', 'http://messaging:8889')
        .set('KNOWLEDGE_SERVICE_URL', 'http://knowledge:8090');
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
        env
          .set('MODEL_NAME', m.name)
          .set('MODEL_REPO', m.repo)
          .set('MODEL_REVISION', m.revision)
          .set('MODEL_PATH', m.path)
          .set('DEVICE', m.device)
          .set('PRECISION', m.precision)
          .set('QUANTIZATION', m.quantization)
          .set('PORT', MODEL_CONTAINER_PORT)
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
    serviceEnv(service, plan, config, urls, env, secrets);
    if (Object.keys(env.entries).length > 0 || service.secrets.length > 0) files.set(service.name, formatEnvFile(service.name, env.entries));
  }
  return {
    files,
    pending: [...pending]
      .map(([id, users]) => ({ id, services: [...users].sort() }))
      .sort((a, b) => a.id.localeCompare(b.id)),
  };
}
