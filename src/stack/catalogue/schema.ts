import { z } from 'zod';
import { schemaAt, schemaKind } from '../../config/schema-walk.js';
import { configSchema } from '../../config/schema.js';
import { PORT_KEYS } from '../names.js';
import { isStackSecretId } from '../secrets.js';

/**
 * The format of one catalogue file, `compose/<service>.yml` (described for maintainers in
 * compose/README.md). msting checks every file against it when it is built and bundles the result,
 * so a running msting never parses these files. Values that depend on config.yml are named
 * placeholders and conditions that src/stack/catalogue/fill.ts fills in as data.
 */

/** Conditions a `when:` block may name, each a fact of config.yml (fill.ts decides them). */
export const CATALOGUE_CONDITIONS = ['vault-dev', 'mail-via-mailpit'] as const;
export type CatalogueCondition = (typeof CATALOGUE_CONDITIONS)[number];

/** Placeholders an image may hold. */
export const IMAGE_PLACEHOLDERS = ['registry', 'version'] as const;
/** Placeholders a command argument may hold. */
export const COMMAND_PLACEHOLDERS = ['database.max_connections', 'database.shared_buffers', 'redis.maxmemory', 'redis.maxmemory_policy'] as const;
export type CommandPlaceholder = (typeof COMMAND_PLACEHOLDERS)[number];

const PLACEHOLDER = /\{([^{}]*)\}/g;

/** A string whose `{name}` placeholders are all from `names`. */
function withPlaceholders(names: readonly string[]) {
  return z
    .string()
    .min(1)
    .superRefine((value, ctx) => {
      for (const [, name] of value.matchAll(PLACEHOLDER)) {
        if (!names.includes(name!)) ctx.addIssue({ code: 'custom', message: `unknown placeholder {${name}}: use one of ${names.map((n) => `{${n}}`).join(', ') || 'none here'}` });
      }
    });
}

/** `30s` or `4m`, as seconds. */
const duration = z
  .string()
  .regex(/^\d+[sm]$/, 'a duration such as 30s or 4m')
  .transform((value) => Number(value.slice(0, -1)) * (value.endsWith('m') ? 60 : 1));

const memory = z.string().regex(/^\d+[kmg]$/, 'a memory size such as 512m or 2g');
const serviceName = z.string().regex(/^[a-z][a-z0-9-]*$/, 'a service name such as kratos-migrate');
const absolutePath = z.string().regex(/^\/\S*$/, 'an absolute path inside the container');

const port = z.strictObject({
  key: z.enum(PORT_KEYS),
  target: z.number().int().min(1).max(65535),
  public: z.boolean().default(false),
});

const health = z
  .strictObject({
    shell: z.string().min(1).optional(),
    command: z.array(z.string().min(1)).min(1).optional(),
    interval: duration.default(30),
    timeout: duration.default(10),
    start_period: duration.default(40),
    retries: z.number().int().min(1).default(3),
  })
  .refine((h) => (h.shell === undefined) !== (h.command === undefined), 'give exactly one of shell and command');

const mount = z.union([
  z.strictObject({ volume: z.string().regex(/^[a-z][a-z0-9_]*$/, 'a volume name such as app_home'), target: absolutePath, read_only: z.boolean().default(false), about: z.string().min(1).optional() }),
  z.strictObject({ bind: z.string().min(1), target: absolutePath, read_only: z.boolean().default(true) }),
  z.strictObject({ config: z.string().min(1), target: absolutePath }),
]);

const dependency = z.enum(['healthy', 'completed', 'started']);

/**
 * Addresses an env file may hold by name (`url:`): the public ones derive from `hostname` in
 * config.yml, the internal ones are the stack's service names and ports. src/render/env-sources.ts
 * gives each its value.
 */
export const ENV_URLS = [
  'hostname',
  'webauthn_rp_id',
  'kratos_browser',
  'cors_origins',
  'mailpit_path',
  'kratos_public',
  'kratos_admin',
  'knowledge',
  'messaging',
  'llm_gateway',
  'chatbot',
  'external_ai',
] as const;
export type EnvUrl = (typeof ENV_URLS)[number];

/**
 * Values msting computes for an env file (`derived:`), each a named function of
 * src/render/env-sources.ts: connection strings that carry a secret, or a value from several
 * settings. The data names them; it never holds code or a string to paste values into.
 */
export const ENV_DERIVED = ['database_url', 'kratos_dsn', 'kratos_migrate_dsn', 'redis_url', 'smtp_uri', 'mailpit_ui_auth'] as const;
export type EnvDerived = (typeof ENV_DERIVED)[number];

const SOURCES = ['value', 'config', 'secret', 'url', 'derived'] as const;

/** A key of config.yml holding one value (text, a number, a boolean), as `app.env`. */
const configKey = z.string().superRefine((key, ctx) => {
  const found = schemaAt(configSchema, key.split('.'));
  if (!found.ok) ctx.addIssue({ code: 'custom', message: `unknown config key ${key}` });
  else if (schemaKind(found.schema) !== 'scalar') ctx.addIssue({ code: 'custom', message: `${key} is not a single value of config.yml` });
});

/**
 * One variable of a service's env file and where its value comes from: exactly one source, an
 * optional condition of config.yml, and `about` for the reader (which STING-CE file reads it).
 */
const envVariable = z
  .strictObject({
    value: z.string({ error: 'a constant is text: write it in quotes ("true", "5050")' }).optional(),
    config: configKey.optional(),
    secret: z
      .string()
      .superRefine((id, ctx) => {
        if (!isStackSecretId(id)) ctx.addIssue({ code: 'custom', message: `unknown secret ${id}: use an id of SECRET_SPECS in src/stack/secrets.ts` });
      })
      .optional(),
    url: z.enum(ENV_URLS).optional(),
    derived: z.enum(ENV_DERIVED).optional(),
    when: z.enum(CATALOGUE_CONDITIONS).optional(),
    about: z.string().min(1).optional(),
  })
  .refine((v) => SOURCES.filter((source) => v[source] !== undefined).length === 1, `give exactly one of ${SOURCES.join(', ')}`);

const envName = z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name such as DATABASE_URL');

/** The keys a `when:` block may replace. */
const replaceable = {
  ports: z.array(port).default([]),
  depends_on: z.record(serviceName, dependency).default({}),
  depends_on_if_running: z.record(serviceName, dependency).default({}),
  mounts: z.array(mount).default([]),
  config_files: z.array(z.string().min(1)).default([]),
  command: z.array(withPlaceholders(COMMAND_PLACEHOLDERS)).nullable().default(null),
  entrypoint: z.array(z.string().min(1)).nullable().default(null),
  user: z.string().regex(/^\d+:\d+$/, 'a uid:gid such as 999:999').nullable().default(null),
  read_only_root: z.boolean().default(true),
  cap_add: z.array(z.string().regex(/^[A-Z_]+$/, 'a capability such as CHOWN')).default([]),
  tmpfs: z.array(absolutePath).default(['/tmp']),
};

const when = z.strictObject(Object.fromEntries(Object.entries(replaceable).map(([key, schema]) => [key, schema.removeDefault().optional()])) as {
  [K in keyof typeof replaceable]: z.ZodOptional<ReturnType<(typeof replaceable)[K]['removeDefault']>>;
});

export const catalogueEntrySchema = z
  .strictObject({
    group: z.enum(['core', 'observability', 'llm']),
    image: withPlaceholders(IMAGE_PLACEHOLDERS),
    health: health.optional(),
    one_shot: z.boolean().default(false),
    depends_on_models: dependency.optional(),
    limits: z.strictObject({ memory, cpus: z.number().positive() }),
    env: z.record(envName, envVariable).default({}),
    ...replaceable,
    when: z.partialRecord(z.enum(CATALOGUE_CONDITIONS), when).default({}),
  })
  .refine((entry) => entry.one_shot === (entry.health === undefined), { message: 'a service has a health check unless it is one_shot', path: ['health'] });

/** One service of the catalogue, as checked (durations in seconds, defaults filled). */
export type CatalogueEntry = z.output<typeof catalogueEntrySchema>;
export type CatalogueMount = z.output<typeof mount>;
export type CatalogueDependency = z.output<typeof dependency>;
export type CatalogueEnvVariable = z.output<typeof envVariable>;
/** Service name → its entry, in file name order. */
export type Catalogue = Record<string, CatalogueEntry>;
