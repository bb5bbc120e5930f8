import { createInterface } from 'node:readline/promises';
import { execa } from 'execa';
import type { Context } from '../context.js';
import type { ComposeCli } from '../docker/compose-cli.js';
import { detectDocker } from '../docker/detect.js';
import type { DockerEngine } from '../docker/engine.js';
import { ExitCode, MstingError } from '../errors.js';
import { judge } from '../lifecycle/start.js';
import { loadStack, type LoadedStack } from '../lifecycle/stack.js';
import { DATABASE_NAMES, DATABASE_ROLES } from '../stack/secrets.js';

export interface ResetAuthOptions {
  timeout: number;
}

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

async function ask(question: string, ctx: Context): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: ctx.out.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question, { signal: ctx.signal })).trim());
  } finally {
    rl.close();
  }
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
      deps.signal.throwIfAborted();
      await new Promise((r) => setTimeout(r, deps.pollMs ?? 500));
    }
  }
}

/**
 * `msting reset-auth`: every identity, session and credential Kratos holds is deleted. After
 * confirmation: stop Kratos, drop and recreate its database (psql in the db container, as the
 * superuser, over the container's local socket), run the migration job again, start Kratos and
 * wait until it is healthy. The other databases are not touched.
 */
export async function run(options: ResetAuthOptions, ctx: Context): Promise<number> {
  const { out } = ctx;
  const stack = await loadStack(ctx);
  const { engine, compose } = await detectDocker({ env: ctx.env, cwd: ctx.home, needCompose: true });
  const deps: ResetAuthDeps = {
    stack,
    engine,
    compose,
    signal: ctx.signal,
    onStep: (m) => (out.json ? out.event({ event: 'step', message: m }) : out.info(m)),
    psql: async (containerId, sql) => {
      const r = await execa('docker', ['exec', '-i', containerId, 'psql', '--no-psqlrc', '-v', 'ON_ERROR_STOP=1', '-U', 'postgres', '-d', 'postgres'], {
        input: sql,
        env: ctx.env,
        extendEnv: false,
        reject: false,
        cancelSignal: ctx.signal,
      });
      return { failed: r.failed, stderr: String(r.stderr) };
    },
  };
  const dbId = await findRunningDb(deps);
  if (!ctx.yes) {
    if (!ctx.stdinIsTTY) {
      throw new MstingError('USAGE', 'reset-auth deletes every user account, session and passkey, and there is no terminal to ask', { hint: 'run it again with --yes to confirm: msting reset-auth --yes' });
    }
    if (!(await ask(`Delete every user account, session and passkey in the "${DATABASE_NAMES.kratos}" database? [y/N] `, ctx))) {
      out.print('nothing was changed');
      return ExitCode.failure;
    }
  }
  await executeResetAuth(deps, dbId, options.timeout);
  if (out.json) out.result({ reset: DATABASE_NAMES.kratos, ok: true });
  else out.print('Kratos starts empty: every account must register again (the first admin included)');
  return ExitCode.ok;
}
