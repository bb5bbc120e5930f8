/**
 * The declared list of every secret the stack needs. Each lives in Vault's KV v2 mount `sting/`
 * at `path`, key `key`; `consumers` are the services whose env file (or compose secret) carries it
 * and whose Vault policy may read it. Nothing outside this list is a stack secret.
 */

export type SecretAlphabet = 'hex' | 'alnum' | 'base64' | 'urlsafe';

export interface SecretGenerator {
  alphabet: SecretAlphabet;
  /** Exact length in characters of the generated value. */
  length: number;
}

export interface SecretSpec {
  id: string;
  path: string;
  key: string;
  description: string;
  generator: SecretGenerator;
  consumers: string[];
}

/**
 * Services that connect to PostgreSQL, each with a login role of its own (least privilege: one
 * role per service, no role shared). Role and database names are STING-CE's own where it has
 * them (docker-entrypoint-initdb.d/03-database-users.sql: app_user, kratos_user, messaging_user),
 * so the GRANTs in its schema SQL stay valid; the others are msting's.
 */
export const DATABASE_USERS = ['app', 'kratos', 'messaging', 'knowledge', 'chatbot', 'external-ai'] as const;
export type DatabaseUser = (typeof DATABASE_USERS)[number];

/** PostgreSQL role each service logs in as. */
export const DATABASE_ROLES: Record<DatabaseUser, string> = {
  app: 'app_user',
  kratos: 'kratos_user',
  messaging: 'messaging_user',
  knowledge: 'knowledge_user',
  chatbot: 'chatbot_user',
  'external-ai': 'external_ai_user',
};

/**
 * Database each service connects to. The knowledge service keeps its honey jars in the app's
 * database, where the app reads them (knowledge_service/database.py); the chatbot's memory tables
 * are there too (05-chatbot-memory.sql); external-ai stores conversations in the messaging
 * database (external_ai_service/conversation_store.py).
 */
export const DATABASE_NAMES: Record<DatabaseUser, string> = {
  app: 'sting_app',
  kratos: 'kratos',
  messaging: 'sting_messaging',
  knowledge: 'sting_app',
  chatbot: 'sting_app',
  'external-ai': 'sting_messaging',
};

/** Every database of the stack, each once, sorted (what a backup must hold). */
export const DATABASES: readonly string[] = [...new Set(Object.values(DATABASE_NAMES))].sort();

/** The service whose role owns each database (and everything in it). */
export const DATABASE_OWNERS: Record<string, DatabaseUser> = { sting_app: 'app', kratos: 'kratos', sting_messaging: 'messaging' };

/** The db container's variable that carries a service role's password to the init scripts. */
export function databasePasswordVariable(user: DatabaseUser): string {
  return `STING_DB_${user.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_PASSWORD`;
}

const pw: SecretGenerator = { alphabet: 'alnum', length: 32 };

export const SECRET_SPECS: readonly SecretSpec[] = [
  { id: 'db.postgres', path: 'db/postgres', key: 'password', description: 'PostgreSQL superuser password', generator: pw, consumers: ['db'] },
  ...DATABASE_USERS.map((user) => ({
    id: `db.${user}`,
    path: `db/${user}`,
    key: 'password',
    description: `PostgreSQL password of the ${user} user`,
    generator: pw,
    consumers: user === 'kratos' ? ['db', 'kratos', 'kratos-migrate'] : ['db', user],
  })),
  // No Redis password: STING-CE's Redis clients connect without one (see docs/sting-ce.md, redis).
  // Kratos: cipher secrets must be exactly 32 characters (XChaCha20-Poly1305 / AES-256 keys).
  { id: 'kratos.cookie', path: 'kratos/secrets', key: 'cookie', description: 'Kratos cookie signing secret', generator: { alphabet: 'alnum', length: 32 }, consumers: ['kratos'] },
  { id: 'kratos.cipher', path: 'kratos/secrets', key: 'cipher', description: 'Kratos cipher secret (exactly 32 characters)', generator: { alphabet: 'alnum', length: 32 }, consumers: ['kratos'] },
  { id: 'kratos.default', path: 'kratos/secrets', key: 'default', description: 'Kratos default secret', generator: { alphabet: 'alnum', length: 32 }, consumers: ['kratos'] },
  { id: 'app.flask', path: 'app/flask', key: 'secret_key', description: 'Flask session secret key', generator: { alphabet: 'hex', length: 64 }, consumers: ['app'] },
  { id: 'app.security_salt', path: 'app/flask', key: 'security_password_salt', description: 'Salt of the tokens the app signs (SECURITY_PASSWORD_SALT)', generator: { alphabet: 'hex', length: 64 }, consumers: ['app'] },
  // The app's HONEY_RESERVE_MASTER_KEY: it must decode to exactly 32 bytes.
  { id: 'app.field_key', path: 'app/encryption', key: 'field_key', description: 'Honey Reserve master key (32 bytes, base64)', generator: { alphabet: 'base64', length: 44 }, consumers: ['app'] },
  // The app and the chatbot send it as X-API-Key (STING_SERVICE_API_KEY); the knowledge service accepts it (KNOWLEDGE_SYSTEM_API_KEY).
  { id: 'internal.service_token', path: 'internal/service', key: 'token', description: 'API key services present to the knowledge service', generator: { alphabet: 'urlsafe', length: 43 }, consumers: ['app', 'knowledge', 'chatbot'] },
  // Chroma's token (CHROMA_SERVER_AUTHN_CREDENTIALS); its clients send it as a bearer token
  // (CHROMA_CLIENT_AUTH_CREDENTIALS, read by chromadb's Settings). Chroma accepts ASCII letters,
  // digits and punctuation only.
  { id: 'chroma.token', path: 'chroma/auth', key: 'token', description: 'Token Chroma requires of its clients', generator: { alphabet: 'alnum', length: 40 }, consumers: ['chroma', 'knowledge', 'external-ai'] },
  { id: 'mailpit.ui', path: 'mailpit/ui', key: 'password', description: 'Mailpit web UI password (user sting): it shows every sign-in code', generator: pw, consumers: ['mailpit'] },
  { id: 'grafana.admin', path: 'grafana/admin', key: 'password', description: 'Grafana admin password', generator: pw, consumers: ['grafana'] },
  { id: 'grafana.secret_key', path: 'grafana/admin', key: 'secret_key', description: 'Grafana secret key', generator: pw, consumers: ['grafana'] },
  { id: 'backup.key', path: 'backup/key', key: 'key', description: 'Backup encryption key (32 bytes, base64)', generator: { alphabet: 'base64', length: 44 }, consumers: [] },
];

/**
 * Services that talk to Vault themselves. Each gets a token of its own (AppRole, policy
 * `msting-svc-<service>`: its own paths only, see src/vault/policies.ts), kept in
 * `secrets/vault-token-<service>` (mode 0600). STING-CE's app reads its token only from the
 * VAULT_TOKEN variable (conf/vault_manager.py), so the renderer puts it in that service's env file
 * (0600) alone, under the secret id `serviceTokenSecretId(service)`.
 */
export const VAULT_CLIENT_SERVICES: readonly string[] = ['app'];

/** Secret id under which a render's provider hands out a service's own Vault token (host-held, not in Vault). */
export function serviceTokenSecretId(service: string): string {
  return `vault.token.${service}`;
}

/** Secret id of the dev-mode Vault's root token (`vault.mode: dev`); held on the host, not in Vault. */
export const DEV_ROOT_TOKEN_ID = 'vault.dev_root_token';

/**
 * Whether a render's provider hands out a secret of this id: one of SECRET_SPECS, or one held on
 * the host (a Vault client service's own token, the dev root token).
 */
export function isStackSecretId(id: string): boolean {
  return SECRET_SPECS.some((s) => s.id === id) || id === DEV_ROOT_TOKEN_ID || VAULT_CLIENT_SERVICES.some((s) => serviceTokenSecretId(s) === id);
}

/**
 * The services whose env file may carry this secret: SECRET_SPECS's consumers, the Vault client
 * service its own token, the vault service the dev root token.
 */
export function secretConsumers(id: string): readonly string[] {
  if (id === DEV_ROOT_TOKEN_ID) return ['vault'];
  const client = VAULT_CLIENT_SERVICES.find((s) => serviceTokenSecretId(s) === id);
  if (client !== undefined) return [client];
  return SECRET_SPECS.find((s) => s.id === id)?.consumers ?? [];
}

export function secretSpec(id: string): SecretSpec {
  const spec = SECRET_SPECS.find((s) => s.id === id);
  if (!spec) throw new Error(`unknown secret ${id}`);
  return spec;
}

/**
 * Where rendering gets secret values. The Vault module supplies the real one; tests pass a fixed
 * map. `undefined` means "not generated yet": the renderer leaves it out and reports it pending.
 */
export interface SecretsProvider {
  /** Value of a declared secret by id, or undefined when it does not exist yet. */
  get(id: string): string | undefined;
  /** Value behind a `vault-ref:PATH#KEY` in config.yml, or undefined when absent. */
  resolveRef(path: string, key: string): string | undefined;
}

export function mapSecretsProvider(values: Record<string, string>, refs: Record<string, string> = {}): SecretsProvider {
  return {
    get: (id) => values[id],
    resolveRef: (path, key) => refs[`${path}#${key}`],
  };
}

export const NO_SECRETS: SecretsProvider = { get: () => undefined, resolveRef: () => undefined };
