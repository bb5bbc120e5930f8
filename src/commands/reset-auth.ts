import { createInterface } from 'node:readline/promises';
import { execa } from 'execa';
import type { Context } from '../context.js';
import { detectDocker } from '../docker/detect.js';
import { ExitCode, MstingError } from '../errors.js';
import { judge } from '../lifecycle/start.js';
import { loadStack } from '../lifecycle/stack.js';
import { DATABASE_NAMES } from '../stack/secrets.js';

export interface ResetAuthOptions {
  timeout: number;
}

/** The SQL that empties Kratos's database: dropped and made again as the init script made it. */
export function resetKratosSql(): string {
  const db = DATABASE_NAMES.kratos;
  return [
    `DROP DATABASE IF EXISTS "${db}" WITH (FORCE);`,
    `CREATE DATABASE "${db}" OWNER "kratos";`,
    `REVOKE ALL ON DATABASE "${db}" FROM PUBLIC;`,
    `GRANT CONNECT, TEMPORARY ON DATABASE "${db}" TO "kratos";`,
    `\\connect "${db}"`,
    'REVOKE ALL ON SCHEMA public FROM PUBLIC;',
    'ALTER SCHEMA public OWNER TO "kratos";',
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
  const containers = await engine.listContainers(stack.project.name);
  const db = containers.find((c) => c.service === 'db');
  if (!db || db.state !== 'running') throw new MstingError('EXTERNAL', 'the database is not running', { hint: 'msting start db, then run msting reset-auth again' });
  if (!ctx.yes) {
    if (!ctx.stdinIsTTY) {
      throw new MstingError('USAGE', 'reset-auth deletes every user account, session and passkey, and there is no terminal to ask', { hint: 'run it again with --yes to confirm: msting reset-auth --yes' });
    }
    if (!(await ask(`Delete every user account, session and passkey in the "${DATABASE_NAMES.kratos}" database? [y/N] `, ctx))) {
      out.print('nothing was changed');
      return ExitCode.failure;
    }
  }
  const step = (m: string) => (out.json ? out.event({ event: 'step', message: m }) : out.info(m));
  for (const c of containers.filter((x) => x.service === 'kratos')) {
    step('stopping kratos');
    await engine.stopContainer(c.id, stack.config.stop_timeout);
  }
  step(`dropping and recreating the ${DATABASE_NAMES.kratos} database`);
  const psql = await execa('docker', ['exec', '-i', db.id, 'psql', '--no-psqlrc', '-v', 'ON_ERROR_STOP=1', '-U', 'postgres', '-d', 'postgres'], {
    input: resetKratosSql(),
    env: ctx.env,
    extendEnv: false,
    reject: false,
    cancelSignal: ctx.signal,
  });
  if (psql.failed) {
    throw new MstingError('EXTERNAL', `psql in the db container failed: ${String(psql.stderr).trim().split('\n').slice(-3).join(' ')}`, {
      hint: 'kratos is stopped; check `msting logs db`, then run msting reset-auth again',
    });
  }
  for (const service of ['kratos-migrate', 'kratos']) {
    if (!stack.plan.services.some((s) => s.name === service)) continue;
    step(service === 'kratos' ? 'starting kratos' : 'running the Kratos migration');
    await compose.create(stack.project, [service], { signal: ctx.signal });
    // A completed job keeps its container; start it again.
    const c = (await engine.listContainers(stack.project.name)).find((x) => x.service === service)!;
    await engine.startContainer(c.id);
    const target = service === 'kratos-migrate' ? 'completed' : 'healthy';
    const deadline = Date.now() + options.timeout * 1000;
    for (;;) {
      const verdict = judge(target, await engine.inspectContainer(c.id));
      if (verdict.done) break;
      if (verdict.failed || Date.now() > deadline) {
        throw new MstingError('EXTERNAL', `${service} did not ${target === 'completed' ? 'finish' : 'become healthy'}${verdict.failed ? `: ${verdict.detail}` : ` in ${options.timeout} s`}`, { hint: `msting logs ${service}` });
      }
      ctx.signal.throwIfAborted();
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  if (out.json) out.result({ reset: DATABASE_NAMES.kratos, ok: true });
  else out.print('Kratos starts empty: every account must register again (the first admin included)');
  return ExitCode.ok;
}
