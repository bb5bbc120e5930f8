import type { MstingConfig } from '../config/schema.js';
import { DATABASE_NAMES, DATABASE_USERS } from '../stack/secrets.js';

/**
 * The init script PostgreSQL runs once, on an empty data volume: one database and one
 * least-privilege login per service, PUBLIC's privileges revoked, pgcrypto where the app
 * encrypts fields. Passwords are read by psql's `\getenv` from the container environment
 * (env/db.env, mode 0600), so this file holds none and no password appears in a process list.
 * Names are constants of msting, not config values.
 */
export function renderPostgresInit(config: MstingConfig): string {
  const sql: string[] = ['\\set ON_ERROR_STOP on'];
  for (const user of DATABASE_USERS) {
    const db = DATABASE_NAMES[user];
    const variable = `STING_DB_${user.toUpperCase()}_PASSWORD`;
    sql.push(
      '',
      `-- ${user}: owns ${db}, may connect to nothing else`,
      `\\getenv ${user}_password ${variable}`,
      `CREATE ROLE "${user}" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD :'${user}_password';`,
      `CREATE DATABASE "${db}" OWNER "${user}";`,
      `REVOKE ALL ON DATABASE "${db}" FROM PUBLIC;`,
      `GRANT CONNECT, TEMPORARY ON DATABASE "${db}" TO "${user}";`,
      `\\connect "${db}"`,
      `REVOKE ALL ON SCHEMA public FROM PUBLIC;`,
      `ALTER SCHEMA public OWNER TO "${user}";`,
    );
    if (user === 'app' && config.app.field_encryption) sql.push('CREATE EXTENSION IF NOT EXISTS pgcrypto;');
    sql.push('\\connect postgres');
  }
  sql.push('', 'REVOKE ALL ON DATABASE postgres FROM PUBLIC;', 'REVOKE ALL ON DATABASE template1 FROM PUBLIC;');
  return [
    '#!/bin/sh',
    '# Rendered by msting. Runs once, when PostgreSQL initialises an empty data volume.',
    '# Holds no password: psql reads them from the environment (env/db.env, mode 0600).',
    'set -e',
    ...DATABASE_USERS.map((user) => `: "\${STING_DB_${user.toUpperCase()}_PASSWORD:?is not set: run msting vault init, then msting config render}"`),
    'psql --no-psqlrc --username "$POSTGRES_USER" --dbname postgres <<\'SQL\'',
    ...sql,
    'SQL',
    '',
  ].join('\n');
}
