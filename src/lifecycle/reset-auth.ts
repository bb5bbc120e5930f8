import { setTimeout as sleep } from 'node:timers/promises';
import type { ComposeCli } from '../docker/compose-cli.js';
import type { DockerEngine } from '../docker/engine.js';
import { MstingError } from '../errors.js';
import { DATABASE_NAMES, DATABASE_ROLES } from '../stack/secrets.js';
import type { LoadedStack } from './stack.js';
import { judge } from './start.js';

/**
 * `reset-auth`'s workflow: empty Kratos's database and bring Kratos back on it. The command
 * confirms and prints; this takes the engine, compose and psql as parameters.
 */

/** The SQL that empties Kratos's database: dropped and made again as the init script made it. */
export function resetKratosSql(): string {
  const db = DATABASE_NAMES.kratos;
  const role = DATABASE_ROLES.kratos;
  return [
    `DROP DATABASE IF EXISTS "${db}" WITH (FORCE);`,
    `CREATE DATABASE "${db}" OWNER "${role}";`,
    `REVOKE ALL ON DATABASE "${db}" FROM PUBLIC;`,
    `GRANT CONNECT, TEMPORARY ON DATABASE "${db}" TO "${role}";`,
    `\\connect "${db}"`,
    'REVOKE ALL ON SCHEMA public FROM PUBLIC;',
    `ALTER SCHEMA public OWNER TO "${role}";`,
  ].join('\n');
}

/** What the reset needs from the outside: the engine, compose, and psql inside the db container. */
export interface ResetAuthDeps {
  stack: LoadedStack;
  engine: Pick<DockerEngine, 'listContainers' | 'stopContainer' | 'startContainer' | 'inspectContainer'>;
  compose: Pick<ComposeCli, 'create'>;
  /** Run SQL as the superuser in the db container; the error text when it failed. */
  psql(containerId: string, sql: string): Promise<{ failed: boolean; stderr: string }>;
  signal: AbortSignal;
  onStep(message: string): void;
  /** Poll interval while waiting for the migration job and Kratos (ms). */
  pollMs?: number;
}

/** The db must be running: found before anything is asked or stopped. */
export async function findRunningDb(deps: Pick<ResetAuthDeps, 'stack' | 'engine'>): Promise<string> {
  const db = (await deps.engine.listContainers(deps.stack.project.name)).find((c) => c.service === 'db');
  if (!db || db.state !== 'running') throw new MstingError('EXTERNAL', 'the database is not running', { hint: 'msting start db, then run msting reset-auth again' });
  return db.id;
}

/**
 * Stop Kratos, drop and recreate its database, run the migration job again, start Kratos and
 * wait until the job completed and Kratos is healthy.
 */
export async function executeResetAuth(deps: ResetAuthDeps, dbId: string, timeoutS: number): Promise<void> {
  const { stack, engine, compose } = deps;
  for (const c of (await engine.listContainers(stack.project.name)).filter((x) => x.service === 'kratos' && x.state === 'running')) {
    deps.onStep('stopping kratos');
    await engine.stopContainer(c.id, stack.config.stop_timeout);
  }
  deps.onStep(`dropping and recreating the ${DATABASE_NAMES.kratos} database`);
  const psql = await deps.psql(dbId, resetKratosSql());
  if (psql.failed) {
    throw new MstingError('EXTERNAL', `psql in the db container failed: ${psql.stderr.trim().split('\n').slice(-3).join(' ')}`, {
      hint: 'kratos is stopped; check `msting logs db`, then run msting reset-auth again',
    });
  }
  for (const service of ['kratos-migrate', 'kratos']) {
    if (!stack.plan.services.some((s) => s.name === service)) continue;
    deps.onStep(service === 'kratos' ? 'starting kratos' : 'running the Kratos migration');
    await compose.create(stack.project, [service], { signal: deps.signal });
    // A completed job keeps its container; start it again.
    const c = (await engine.listContainers(stack.project.name)).find((x) => x.service === service);
    if (!c) throw new MstingError('EXTERNAL', `compose created no ${service} container`, { hint: `msting logs ${service}` });
    await engine.startContainer(c.id);
    const target = service === 'kratos-migrate' ? 'completed' : 'healthy';
    const deadline = Date.now() + timeoutS * 1000;
    for (;;) {
      const verdict = judge(target, await engine.inspectContainer(c.id));
      if (verdict.done) break;
      if (verdict.failed || Date.now() > deadline) {
        throw new MstingError('EXTERNAL', `${service} did not ${target === 'completed' ? 'finish' : 'become healthy'}${verdict.failed ? `: ${verdict.detail}` : ` in ${timeoutS} s`}`, { hint: `msting logs ${service}` });
      }
      await sleep(deps.pollMs ?? 500, undefined, { signal: deps.signal }).catch(() => undefined);
      deps.signal.throwIfAborted();
    }
  }
}
