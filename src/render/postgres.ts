import type { MstingConfig } from '../config/schema.js';
import {
  DATABASE_NAMES,
  DATABASE_OWNERS,
  DATABASE_ROLES,
  DATABASE_USERS,
  DATABASES,
  databasePasswordVariable,
  type DatabaseUser,
} from '../stack/secrets.js';

/**
 * What PostgreSQL runs once, when it initialises an empty data volume: the files of
 * /docker-entrypoint-initdb.d (compose/config/db/initdb/ in the install), in name order.
 *
 *   00-msting-roles.sh        one login role per service, passwords from the container
 *                             environment (env/db.env, mode 0600, from Vault); the databases the
 *                             STING-CE SQL does not create itself
 *   10-sting-ce-<file>.sql    STING-CE's own schema (docker-entrypoint-initdb.d of the source
 *                             tree), in its order; a file that sets passwords is left out
 *   50-sting-ce-migrations.sh STING-CE's database/migrations/*.sql on sting_app, each applied as
 *                             far as it goes, as STING-CE's installer does
 *   90-msting-grants.sh       every database and everything in it owned by its service's role;
 *                             the other roles get only the tables they use
 *
 * Nothing here holds a password: psql reads them with `\getenv` from the environment, so none
 * appears in a file or a process list.
 */

/** One SQL file of the STING-CE source tree. */
export interface StingSqlFile {
  /** File name, e.g. `01-init.sql`. */
  name: string;
  content: string;
}

/** STING-CE's database schema, as read from a source tree (see readStingSchema). */
export interface StingSchema {
  /** docker-entrypoint-initdb.d/*.sql, sorted by name (the order PostgreSQL runs them). */
  initdb: StingSqlFile[];
  /** database/migrations/*.sql, sorted by name. */
  migrations: StingSqlFile[];
}

/** Where the init files are mounted in the db container. */
export const INITDB_MOUNT = '/docker-entrypoint-initdb.d';
/** The init files msting writes itself, relative to the initdb directory. */
export const INITDB_ROLES_FILE = '00-msting-roles.sh';
export const INITDB_GRANTS_FILE = '90-msting-grants.sh';
const MIGRATIONS_FILE = '50-sting-ce-migrations.sh';
const MIGRATIONS_DIR = 'sting-ce-migrations';
const SCHEMA_PREFIX = '10-sting-ce-';

/**
 * Tables a service that does not own the database reads and writes, from its code. Only those
 * that exist when the grants run are granted (without STING-CE's SQL there are none).
 */
export const SERVICE_TABLES: Partial<Record<DatabaseUser, readonly string[]>> = {
  // knowledge_service/database.py: its SQLAlchemy models.
  knowledge: ['documents', 'honey_jars', 'marketplace_listings'],
  // chatbot/core/database_manager.py and chatbot/: the memory tables of 05-chatbot-memory.sql,
  // conversation_summaries from database/migrations/005.
  chatbot: [
    'chatbot_preferences',
    'conversation_context',
    'conversation_summaries',
    'conversations',
    'extracted_entities',
    'learned_facts',
    'memory_entries',
    'messages',
    'user_preferences',
  ],
  // external_ai_service/conversation_store.py: 05-bee-conversations.sql's tables.
  'external-ai': ['conversation_summaries', 'conversations', 'messages'],
};

/** Why a file of the tree's docker-entrypoint-initdb.d is not run. */
export interface SkippedSqlFile {
  name: string;
  reason: string;
}

export interface PostgresInit {
  /** Path relative to the initdb directory → content. */
  files: Map<string, string>;
  skipped: SkippedSqlFile[];
  /** Databases the STING-CE SQL creates itself (msting creates the others). */
  createdBySchema: string[];
}

const ident = (name: string): string => `"${name.replace(/"/g, '""')}"`;
const literal = (value: string): string => `'${value.replace(/'/g, "''")}'`;

/** A statement that sets a login password in the file: STING-CE's hard-coded credentials. */
const SETS_PASSWORD = /\b(?:CREATE|ALTER)\s+(?:USER|ROLE)\b[^;]*\bPASSWORD\b/i;
/** `CREATE DATABASE name` as a statement of its own (not inside a string for \gexec). */
const CREATE_DATABASE = /^\s*CREATE\s+DATABASE\s+"?([A-Za-z_][A-Za-z0-9_]*)"?/gim;

function withoutComments(sql: string): string {
  return sql.replace(/--[^\n]*/g, '').replace(/\/\*[\s\S]*?\*\//g, '');
}

/** Which files of the tree's schema run, and which are left out with the reason. */
export function selectSchemaFiles(schema: StingSchema | null): { run: StingSqlFile[]; skipped: SkippedSqlFile[]; createdBySchema: string[] } {
  const run: StingSqlFile[] = [];
  const skipped: SkippedSqlFile[] = [];
  const created = new Set<string>();
  for (const file of schema?.initdb ?? []) {
    const code = withoutComments(file.content);
    if (SETS_PASSWORD.test(code)) {
      skipped.push({ name: file.name, reason: 'it creates database users with passwords written in the file; msting creates them with passwords from Vault' });
      continue;
    }
    for (const m of code.matchAll(CREATE_DATABASE)) created.add(m[1]!);
    run.push(file);
  }
  return { run, skipped, createdBySchema: DATABASES.filter((d) => created.has(d)) };
}

function shellScript(header: string[], guards: string[], body: string[]): string {
  return ['#!/bin/sh', ...header.map((l) => `# ${l}`.trimEnd()), 'set -e', ...guards, ...body, ''].join('\n');
}

function psqlHeredoc(database: string, sql: string[]): string[] {
  return [`psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname ${database} <<'SQL'`, ...sql, 'SQL'];
}

function rolesScript(config: MstingConfig, createdBySchema: string[], skipped: SkippedSqlFile[]): string {
  const sql: string[] = [];
  for (const user of DATABASE_USERS) {
    const role = DATABASE_ROLES[user];
    sql.push(
      `-- ${user}: connects to ${DATABASE_NAMES[user]}`,
      `\\getenv ${role}_password ${databasePasswordVariable(user)}`,
      `CREATE ROLE ${ident(role)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD :'${role}_password';`,
    );
  }
  const ours = DATABASES.filter((d) => !createdBySchema.includes(d));
  if (ours.length > 0) sql.push('', '-- Databases the STING-CE SQL does not create itself.');
  for (const db of ours) sql.push(`CREATE DATABASE ${ident(db)} OWNER ${ident(DATABASE_ROLES[DATABASE_OWNERS[db]!])};`);
  const header = [
    'Rendered by msting. Runs once, when PostgreSQL initialises an empty data volume.',
    'Holds no password: psql reads them from the environment (env/db.env, mode 0600).',
    ...(skipped.length > 0 ? ['', 'Left out of the STING-CE schema:', ...skipped.map((s) => `  ${s.name}: ${s.reason}`)] : []),
    ...(config.images.source_dir === undefined ? ['', 'images.source_dir is not set: STING-CE\'s schema (tables, functions, triggers) is not created.'] : []),
  ];
  const guards = DATABASE_USERS.map((user) => `: "\${${databasePasswordVariable(user)}:?is not set: run msting vault init, then msting config render}"`);
  return shellScript(header, guards, psqlHeredoc('postgres', sql));
}

function migrationsScript(): string {
  return shellScript(
    [
      'Rendered by msting. STING-CE\'s database/migrations, applied to sting_app after its schema, as',
      'STING-CE\'s installer applies them: each file as far as it goes (a statement that fails is',
      'reported in the database log and the rest of the file still runs).',
    ],
    [],
    [
      `for f in ${INITDB_MOUNT}/${MIGRATIONS_DIR}/*.sql; do`,
      '  [ -e "$f" ] || continue',
      '  echo "msting: applying STING-CE migration ${f##*/}"',
      `  psql --no-psqlrc --quiet --username "$POSTGRES_USER" --dbname ${DATABASE_NAMES.app} -f "$f" || echo "msting: migration \${f##*/} failed" >&2`,
      'done',
    ],
  );
}

/** Hand every table, view, sequence, routine and type of schema public to `role` (extensions' members excepted). */
function handOverSql(role: string): string[] {
  const r = literal(role);
  return [
    'DO $$',
    'DECLARE',
    '  obj record;',
    `  target name := ${r};`,
    'BEGIN',
    '  FOR obj IN',
    "    SELECT c.oid, c.relkind, format('%I.%I', n.nspname, c.relname) AS name",
    '    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace',
    "    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')",
    '      AND c.relowner <> target::regrole',
    "      AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i', 'e'))",
    '  LOOP',
    "    EXECUTE format('ALTER %s %s OWNER TO %I',",
    "      CASE obj.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'f' THEN 'FOREIGN TABLE' WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END,",
    '      obj.name, target);',
    '  END LOOP;',
    '  FOR obj IN',
    '    SELECT p.oid::regprocedure AS name FROM pg_proc p',
    "    WHERE p.pronamespace = 'public'::regnamespace AND p.proowner <> target::regrole",
    "      AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')",
    '  LOOP',
    "    EXECUTE format('ALTER ROUTINE %s OWNER TO %I', obj.name, target);",
    '  END LOOP;',
    '  FOR obj IN',
    '    SELECT t.oid::regtype AS name FROM pg_type t',
    "    WHERE t.typnamespace = 'public'::regnamespace AND t.typowner <> target::regrole",
    "      AND (t.typtype IN ('e', 'd', 'r') OR (t.typtype = 'c' AND (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c'))",
    "      AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e')",
    '  LOOP',
    "    EXECUTE format('ALTER TYPE %s OWNER TO %I', obj.name, target);",
    '  END LOOP;',
    'END $$;',
  ];
}

/** Grant a service the rows of the tables it uses (those that exist), and their sequences. */
function tableGrantsSql(role: string, tables: readonly string[]): string[] {
  return [
    `GRANT USAGE ON SCHEMA public TO ${ident(role)};`,
    'DO $$',
    'DECLARE',
    '  t text;',
    '  s record;',
    `  grantee name := ${literal(role)};`,
    'BEGIN',
    `  FOREACH t IN ARRAY ARRAY[${tables.map(literal).join(', ')}] LOOP`,
    "    CONTINUE WHEN to_regclass(format('public.%I', t)) IS NULL;",
    "    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON public.%I TO %I', t, grantee);",
    '    FOR s IN',
    "      SELECT format('public.%I', q.relname) AS name FROM pg_depend d JOIN pg_class q ON q.oid = d.objid",
    "      WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass",
    "        AND d.refobjid = to_regclass(format('public.%I', t)) AND q.relkind = 'S'",
    '    LOOP',
    "      EXECUTE format('GRANT USAGE, SELECT ON SEQUENCE %s TO %I', s.name, grantee);",
    '    END LOOP;',
    '  END LOOP;',
    'END $$;',
  ];
}

function grantsScript(config: MstingConfig): string {
  const sql: string[] = ['-- Each database owned by its service\'s role; PUBLIC may connect to none.'];
  const everyDb = [...DATABASES, 'postgres', 'template1'];
  for (const db of DATABASES) sql.push(`ALTER DATABASE ${ident(db)} OWNER TO ${ident(DATABASE_ROLES[DATABASE_OWNERS[db]!])};`);
  for (const db of everyDb) sql.push(`REVOKE ALL ON DATABASE ${ident(db)} FROM PUBLIC;`);
  sql.push('', '-- Each role connects to its own database only (STING-CE\'s SQL grants app_user the messaging database too).');
  for (const user of DATABASE_USERS) {
    const role = DATABASE_ROLES[user];
    for (const db of everyDb.filter((d) => d !== DATABASE_NAMES[user])) sql.push(`REVOKE ALL ON DATABASE ${ident(db)} FROM ${ident(role)};`);
    if (DATABASE_OWNERS[DATABASE_NAMES[user]] !== user) sql.push(`GRANT CONNECT ON DATABASE ${ident(DATABASE_NAMES[user])} TO ${ident(role)};`);
  }
  for (const db of DATABASES) {
    const owner = DATABASE_OWNERS[db]!;
    const role = DATABASE_ROLES[owner];
    sql.push(
      '',
      `\\connect ${ident(db)}`,
      `-- ${db}: ${role} owns the schema and everything in it (tables the STING-CE SQL made as the superuser included).`,
      'REVOKE ALL ON SCHEMA public FROM PUBLIC;',
      `ALTER SCHEMA public OWNER TO ${ident(role)};`,
    );
    if (owner === 'app' && config.app.field_encryption) sql.push('CREATE EXTENSION IF NOT EXISTS pgcrypto;');
    sql.push(...handOverSql(role));
    for (const user of DATABASE_USERS.filter((u) => DATABASE_NAMES[u] === db && u !== owner)) {
      sql.push(`-- ${DATABASE_ROLES[user]} (${user}): the rows of the tables it uses, nothing else.`, ...tableGrantsSql(DATABASE_ROLES[user], SERVICE_TABLES[user] ?? []));
    }
  }
  return shellScript(
    ['Rendered by msting. Runs once, after the STING-CE schema: who owns what, and who may use it.'],
    [],
    psqlHeredoc('postgres', sql),
  );
}

/**
 * The files of the initdb directory (see the top of this file). `schema` is STING-CE's, read from
 * `images.source_dir`; null when it is not set, and then the databases and roles are made but
 * none of STING-CE's tables.
 */
export function renderPostgresInit(config: MstingConfig, schema: StingSchema | null): PostgresInit {
  const { run, skipped, createdBySchema } = selectSchemaFiles(schema);
  const files = new Map<string, string>();
  files.set(INITDB_ROLES_FILE, rolesScript(config, createdBySchema, skipped));
  for (const file of run) files.set(`${SCHEMA_PREFIX}${file.name}`, file.content);
  const migrations = schema?.migrations ?? [];
  if (migrations.length > 0) {
    files.set(MIGRATIONS_FILE, migrationsScript());
    for (const file of migrations) files.set(`${MIGRATIONS_DIR}/${file.name}`, file.content);
  }
  files.set(INITDB_GRANTS_FILE, grantsScript(config));
  return { files, skipped, createdBySchema };
}
