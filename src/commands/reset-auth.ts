import { createInterface } from 'node:readline/promises';
import type { Context } from '../context.js';
import { execWithInput } from '../docker/cli.js';
import { detectDocker } from '../docker/detect.js';
import { ExitCode, MstingError } from '../errors.js';
import { executeResetAuth, findRunningDb, type ResetAuthDeps } from '../lifecycle/reset-auth.js';
import { loadStack, requireCompose } from '../lifecycle/stack.js';
import { DATABASE_NAMES } from '../stack/secrets.js';

export interface ResetAuthOptions {
  timeout: number;
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
  requireCompose(stack.config, 'reset-auth', 'set orchestrator: compose for the reset (docs/swarm.md, going back to one host)');
  const { engine, compose } = await detectDocker({ env: ctx.env, cwd: ctx.home, needCompose: true });
  const deps: ResetAuthDeps = {
    stack,
    engine,
    compose,
    signal: ctx.signal,
    onStep: (m) => (out.json ? out.event({ event: 'step', message: m }) : out.info(m)),
    psql: async (containerId, sql) => {
      const r = await execWithInput(containerId, ['psql', '--no-psqlrc', '-v', 'ON_ERROR_STOP=1', '-U', 'postgres', '-d', 'postgres'], { input: sql, env: ctx.env, signal: ctx.signal });
      return { failed: r.failed, stderr: r.stderr };
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
