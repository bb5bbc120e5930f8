import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { readStingSchema } from '../../../src/install/source-tree.js';
import { INITDB_GRANTS_FILE, INITDB_ROLES_FILE, renderPostgresInit, type StingSchema } from '../../../src/render/postgres.js';
import { DATABASE_ROLES, DATABASE_USERS, databasePasswordVariable } from '../../../src/stack/secrets.js';
import { FAKE_SECRETS, makeConfig, render } from './fixtures.js';

const TREE = resolve('test/fixtures/sting-tree');
const withTree = makeConfig({ images: { source_dir: TREE } });

async function fixtureSchema(): Promise<StingSchema> {
  return (await readStingSchema(withTree))!;
}

describe('the database init files', () => {
  it('run msting roles first, the tree SQL in its order, its migrations, then msting grants', async () => {
    const init = renderPostgresInit(withTree, await fixtureSchema());
    const names = [...init.files.keys()];
    // PostgreSQL runs the top-level files in name order; a folder it ignores holds the migrations.
    const topLevel = names.filter((n) => !n.includes('/'));
    expect(topLevel).toEqual([...topLevel].sort());
    expect(topLevel).toEqual([
      INITDB_ROLES_FILE,
      '10-sting-ce-01-init.sql',
      '10-sting-ce-02-kratos.sql',
      '10-sting-ce-04-messaging-database.sql',
      '10-sting-ce-05-bee-conversations.sql',
      '10-sting-ce-05-chatbot-memory.sql',
      '10-sting-ce-99-final-permissions.sql',
      '50-sting-ce-migrations.sh',
      INITDB_GRANTS_FILE,
    ]);
    expect(names).toContain('sting-ce-migrations/010_add_honey_jars_updated_at.sql');
    expect(init.files.get('10-sting-ce-01-init.sql')).toMatch(/CREATE TABLE IF NOT EXISTS honey_jars/);
  });

  it('never runs the tree file with hard-coded passwords, and says why in the roles script', async () => {
    const init = renderPostgresInit(withTree, await fixtureSchema());
    expect(init.skipped.map((s) => s.name)).toEqual(['03-database-users.sql']);
    const all = [...init.files.values()].join('\n');
    expect(all).not.toMatch(/secure_password_change_me/);
    expect(init.files.get(INITDB_ROLES_FILE)).toMatch(/03-database-users\.sql: it creates database users with passwords written in the file/);
  });

  it('creates one login role per service with its password read from the environment, under STING-CE names', async () => {
    const roles = renderPostgresInit(withTree, await fixtureSchema()).files.get(INITDB_ROLES_FILE)!;
    for (const user of DATABASE_USERS) {
      const role = DATABASE_ROLES[user];
      expect(roles).toContain(`\\getenv ${role}_password ${databasePasswordVariable(user)}`);
      expect(roles).toMatch(new RegExp(`CREATE ROLE "${role}" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD :'${role}_password';`));
      expect(roles).toContain(`: "\${${databasePasswordVariable(user)}:?`);
    }
    expect(['app_user', 'kratos_user', 'messaging_user'].every((r) => roles.includes(`"${r}"`))).toBe(true);
    expect(databasePasswordVariable('external-ai')).toBe('STING_DB_EXTERNAL_AI_PASSWORD');
  });

  it('creates only the databases the tree SQL does not create itself', async () => {
    const init = renderPostgresInit(withTree, await fixtureSchema());
    expect(init.createdBySchema).toEqual(['kratos', 'sting_messaging']);
    const roles = init.files.get(INITDB_ROLES_FILE)!;
    expect(roles).toContain('CREATE DATABASE "sting_app" OWNER "app_user";');
    expect(roles).not.toMatch(/CREATE DATABASE "kratos"|CREATE DATABASE "sting_messaging"/);
  });

  it('without a source tree makes every database and role, and no STING-CE table', () => {
    const init = renderPostgresInit(makeConfig(), null);
    expect([...init.files.keys()]).toEqual([INITDB_ROLES_FILE, INITDB_GRANTS_FILE]);
    const roles = init.files.get(INITDB_ROLES_FILE)!;
    for (const db of ['sting_app', 'kratos', 'sting_messaging']) expect(roles).toMatch(new RegExp(`CREATE DATABASE "${db}" OWNER`));
    expect(roles).toMatch(/images\.source_dir is not set/);
  });

  it('hands each database to its service role and grants the others only their tables', () => {
    const grants = renderPostgresInit(makeConfig(), null).files.get(INITDB_GRANTS_FILE)!;
    expect(grants).toContain('ALTER DATABASE "sting_app" OWNER TO "app_user";');
    expect(grants).toContain('ALTER DATABASE "kratos" OWNER TO "kratos_user";');
    expect(grants).toContain('ALTER DATABASE "sting_messaging" OWNER TO "messaging_user";');
    // STING-CE's SQL lets app_user into the messaging database; msting takes that back.
    expect(grants).toContain('REVOKE ALL ON DATABASE "sting_messaging" FROM "app_user";');
    expect(grants).toContain('GRANT CONNECT ON DATABASE "sting_app" TO "knowledge_user";');
    expect(grants).toContain('GRANT CONNECT ON DATABASE "sting_app" TO "chatbot_user";');
    expect(grants).toContain('GRANT CONNECT ON DATABASE "sting_messaging" TO "external_ai_user";');
    expect(grants).toMatch(/ARRAY\['documents', 'honey_jars', 'marketplace_listings'\]/);
    expect(grants).toMatch(/REVOKE ALL ON DATABASE "template1" FROM PUBLIC;/);
  });

  it('enables pgcrypto for the app only when field encryption is on', () => {
    expect(renderPostgresInit(makeConfig(), null).files.get(INITDB_GRANTS_FILE)).toMatch(/CREATE EXTENSION IF NOT EXISTS pgcrypto;/);
    expect(renderPostgresInit(makeConfig({ app: { field_encryption: false } }), null).files.get(INITDB_GRANTS_FILE)).not.toMatch(/pgcrypto/);
  });

  it('a tree without docker-entrypoint-initdb.d is refused, naming the folder', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'msting-tree-'));
    try {
      await expect(readStingSchema(makeConfig({ images: { source_dir: empty } }))).rejects.toThrow(/has no docker-entrypoint-initdb\.d\/\*\.sql/);
      await expect(readStingSchema(makeConfig({ images: { source_dir: join(empty, 'nope') } }))).rejects.toThrow(/is not a directory/);
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });

  it.skipIf(!process.env.STING_CE_SRC)('the real STING-CE tree (STING_CE_SRC): its schema runs except the password file', async () => {
    const real = makeConfig({ images: { source_dir: join(process.env.STING_CE_SRC!, 'STING') } });
    const init = renderPostgresInit(real, await readStingSchema(real));
    expect(init.skipped.map((s) => s.name)).toEqual(['03-database-users.sql']);
    expect([...init.files.keys()]).toEqual(expect.arrayContaining(['10-sting-ce-01-init.sql', '10-sting-ce-05-chatbot-memory.sql', '10-sting-ce-99-final-permissions.sql']));
    expect(init.createdBySchema).toEqual(['kratos', 'sting_messaging']);
  });
});

describe('the rendered stack', () => {
  it('passes database.max_connections and shared_buffers to PostgreSQL', () => {
    const config = makeConfig({ database: { max_connections: 250, shared_buffers: '1g' } });
    const compose = parse(render(config, 'default').files.get('compose/docker-compose.yml')!.content) as { services: Record<string, { command: string[] }> };
    expect(compose.services.db!.command).toEqual(['postgres', '-c', 'max_connections=250', '-c', 'shared_buffers=1GB']);
    const defaults = parse(render(makeConfig(), 'default').files.get('compose/docker-compose.yml')!.content) as { services: Record<string, { command: string[] }> };
    expect(defaults.services.db!.command).toEqual(['postgres', '-c', 'max_connections=100', '-c', 'shared_buffers=256MB']);
  });

  it('writes the tree SQL beside the scripts, and warns when there is no tree', async () => {
    const rendered = render(withTree, 'default', { schema: await fixtureSchema() });
    expect([...rendered.files.keys()]).toEqual(expect.arrayContaining(['compose/config/db/initdb/00-msting-roles.sh', 'compose/config/db/initdb/10-sting-ce-01-init.sql']));
    expect(rendered.plan.warnings.join('\n')).not.toMatch(/source_dir/);
    expect(render(makeConfig(), 'default').plan.warnings.join('\n')).toMatch(/images\.source_dir is not set: the database gets its users and empty databases but not STING-CE's schema/);
  });

  it('gives each service the URL of its own role and database, in the variable its code reads', () => {
    const files = render(makeConfig(), 'full').files;
    const env = (service: string) => files.get(`env/${service}.env`)?.content ?? '';
    expect(env('app')).toContain("DATABASE_URL='postgresql://app_user:fake-db-app@db:5432/sting_app'");
    expect(env('knowledge')).toContain("DATABASE_URL='postgresql://knowledge_user:fake-db-knowledge@db:5432/sting_app'");
    expect(env('chatbot')).toContain("DATABASE_URL='postgresql://chatbot_user:fake-db-chatbot@db:5432/sting_app'");
    expect(env('messaging')).toContain("DATABASE_URL='postgresql://messaging_user:fake-db-messaging@db:5432/sting_messaging'");
    expect(env('kratos')).toMatch(/DSN='postgres:\/\/kratos_user:fake-db-kratos@db:5432\/kratos\?/);
    expect(env('db')).toContain("STING_DB_EXTERNAL_AI_PASSWORD='fake-db-external-ai'");
    // Read by nothing in STING-CE: not rendered.
    for (const service of ['app', 'knowledge', 'chatbot', 'messaging']) expect(env(service)).not.toMatch(/^DATABASE_(HOST|PORT|NAME|USER|PASSWORD)=/m);
    expect(FAKE_SECRETS.get('db.chatbot')).toBe('fake-db-chatbot');
  });
});
