import type { Context } from '../context.js';
import { detectDocker, type DockerSetup } from '../docker/detect.js';
import { ExitCode, MstingError } from '../errors.js';
import { loadStack } from '../lifecycle/stack.js';
import { portReport } from '../lifecycle/start-stack.js';

export interface CheckPortsCommandOptions {
  profile?: string | undefined;
}

export interface CheckPortsDeps {
  docker(ctx: Context): Promise<DockerSetup>;
}

export const defaultDeps: CheckPortsDeps = {
  docker: (ctx) => detectDocker({ env: ctx.env, cwd: ctx.home, needCompose: false }),
};

/**
 * `msting check-ports`: host ports two services claim, and host ports something else already
 * holds (ports this project's own containers publish are theirs). Exit 4 on a conflict, each
 * reported with the config key to change. `start` runs the same check first.
 */
export async function run(options: CheckPortsCommandOptions, ctx: Context, deps: CheckPortsDeps = defaultDeps): Promise<number> {
  const stack = await loadStack(ctx, { profile: options.profile });
  const { engine } = await deps.docker(ctx);
  const report = await portReport(stack, engine);
  if (ctx.out.json) {
    ctx.out.result(report);
    return report.ok ? ExitCode.ok : ExitCode.preflight;
  }
  if (report.ok) {
    ctx.out.print(`all ${report.checked.length} host ports of profile ${stack.profile} are free (or held by this project's own containers)`);
    return ExitCode.ok;
  }
  throw new MstingError('PORT_CONFLICT', `${report.conflicts.length} host port conflict${report.conflicts.length === 1 ? '' : 's'}`, {
    details: report.conflicts.map((c) => c.message),
    hint: 'change the ports named above (msting config set ports.<key> <port>), or stop what holds them',
  });
}
