import type { MstingConfig } from '../config/schema.js';
import type { EnvDerived, EnvUrl } from '../stack/catalogue/schema.js';
import { CHATBOT_PORT, EXTERNAL_AI_PORT, type ServicePlan } from '../stack/plan.js';
import { DATABASE_NAMES, DATABASE_ROLES, DATABASE_USERS, type DatabaseUser } from '../stack/secrets.js';
import { KRATOS_ADMIN_INTERNAL, KRATOS_PUBLIC_INTERNAL, MAILPIT_BROWSER_PATH, MAILPIT_UI_USER, type PublicUrls } from '../stack/urls.js';

/**
 * The values a catalogue file's `env:` names rather than writes (`url:` and `derived:`), one
 * function each. The catalogue says which variable of which service takes which name; these say
 * how the value is made, as values, so nothing from config.yml or Vault is pasted into a template.
 */

/** What a named value may read: the service it is for, config.yml, the addresses and the secrets. */
export interface EnvContext {
  service: ServicePlan;
  config: MstingConfig;
  urls: PublicUrls;
  /** A secret's value, or undefined (and the secret recorded as pending for this service). */
  secret(id: string): string | undefined;
  /** The value behind a Vault reference, or undefined (recorded as pending). */
  ref(path: string, key: string): string | undefined;
}

/** SMTP password for a relay that needs a login: stored in Vault at this path and key. */
export const SMTP_PASSWORD_REF = { path: 'mail/smtp', key: 'password' } as const;

/** Every `url:` name: the public addresses from the one hostname, and the services inside the stack. */
export const ENV_URL_VALUES = {
  hostname: (urls) => urls.hostname,
  webauthn_rp_id: (urls) => urls.webauthnRpId,
  kratos_browser: (urls) => urls.kratosBrowser,
  cors_origins: (urls) => urls.corsOrigins.join(','),
  // Mailpit's web root: the frontend proxies its UI there.
  mailpit_path: () => MAILPIT_BROWSER_PATH,
  // Kratos inside the stack, as STING-CE's services call it: over TLS on both ports (their
  // defaults; app/routes/aal2_routes.py and app/utils/kratos_auth_decorator.py even hard-code
  // https://kratos:4433), so one scheme works for every caller.
  kratos_public: () => KRATOS_PUBLIC_INTERNAL,
  kratos_admin: () => KRATOS_ADMIN_INTERNAL,
  knowledge: () => 'http://knowledge:8090',
  messaging: () => 'http://messaging:8889',
  llm_gateway: () => 'http://llm-gateway:8080',
  chatbot: () => `http://chatbot:${CHATBOT_PORT}`,
  external_ai: () => `http://external-ai:${EXTERNAL_AI_PORT}`,
} as const satisfies Record<EnvUrl, (urls: PublicUrls) => string>;

/** The URL a service connects to its database with: its own role, its own database. */
export function postgresUrl(user: DatabaseUser, password: string, scheme = 'postgresql'): string {
  return `${scheme}://${DATABASE_ROLES[user]}:${encodeURIComponent(password)}@db:5432/${DATABASE_NAMES[user]}`;
}

/**
 * Redis database number per client that reads REDIS_URL. The app's is 0 because its own
 * hard-coded clients use 0; the chatbot (2) and external-ai (1 and 3) choose theirs in code.
 */
const REDIS_DB: Readonly<Record<string, number>> = { app: 0, knowledge: 4, messaging: 5 };

function databaseUser(service: ServicePlan): DatabaseUser {
  const user = DATABASE_USERS.find((u) => u === service.name);
  if (user === undefined) throw new Error(`database_url: ${service.name} has no database user`);
  return user;
}

function kratosDsn(ctx: EnvContext, query: string): string | undefined {
  const password = ctx.secret('db.kratos');
  return password === undefined ? undefined : `${postgresUrl('kratos', password, 'postgres')}?${query}`;
}

/** Kratos's courier URL: scheme from the TLS mode, the login (from Vault) when the relay needs one. */
function smtpUri({ config, ref }: EnvContext): string | undefined {
  const smtp = config.mail.smtp;
  const scheme = smtp.tls === 'tls' ? 'smtps' : 'smtp';
  const query = smtp.tls === 'none' ? '?disable_starttls=true' : '';
  const host = smtp.host.includes(':') ? `[${smtp.host}]` : smtp.host;
  let auth = '';
  if (smtp.username !== undefined) {
    const password = ref(SMTP_PASSWORD_REF.path, SMTP_PASSWORD_REF.key);
    if (password === undefined) return undefined;
    auth = `${encodeURIComponent(smtp.username)}:${encodeURIComponent(password)}@`;
  }
  return `${scheme}://${auth}${host}:${smtp.port}/${query}`;
}

/** Every `derived:` name; undefined leaves the variable out (a secret not generated yet). */
export const ENV_DERIVED_VALUES = {
  /** The service's own role and database (DATABASE_USERS), with its password. */
  database_url: (ctx) => {
    const user = databaseUser(ctx.service);
    const password = ctx.secret(`db.${user}`);
    return password === undefined ? undefined : postgresUrl(user, password);
  },
  kratos_dsn: (ctx) => kratosDsn(ctx, 'sslmode=disable&max_conns=20&max_idle_conns=4'),
  kratos_migrate_dsn: (ctx) => kratosDsn(ctx, 'sslmode=disable'),
  /**
   * Redis takes no password: STING-CE's clients connect without one (several hard-code
   * `redis://redis:6379/0`), so Redis is kept unreachable instead: never published, on the
   * private network only.
   */
  redis_url: ({ service }) => {
    const db = REDIS_DB[service.name];
    if (db === undefined) throw new Error(`redis_url: no Redis database for ${service.name}`);
    return `redis://redis:6379/${db}`;
  },
  smtp_uri: smtpUri,
  mailpit_ui_auth: (ctx) => {
    const password = ctx.secret('mailpit.ui');
    return password === undefined ? undefined : `${MAILPIT_UI_USER}:${password}`;
  },
} as const satisfies Record<EnvDerived, (ctx: EnvContext) => string | undefined>;
