import { z } from 'zod';
import { PORT_KEYS } from '../names.js';

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
    ...replaceable,
    when: z.partialRecord(z.enum(CATALOGUE_CONDITIONS), when).default({}),
  })
  .refine((entry) => entry.one_shot === (entry.health === undefined), { message: 'a service has a health check unless it is one_shot', path: ['health'] });

/** One service of the catalogue, as checked (durations in seconds, defaults filled). */
export type CatalogueEntry = z.output<typeof catalogueEntrySchema>;
export type CatalogueMount = z.output<typeof mount>;
export type CatalogueDependency = z.output<typeof dependency>;
/** Service name → its entry, in file name order. */
export type Catalogue = Record<string, CatalogueEntry>;
