import type { Context } from '../context.js';
import { detectDocker, type DockerSetup } from '../docker/detect.js';
import { ExitCode, MstingError } from '../errors.js';
import { loadStack } from '../lifecycle/stack.js';
import { executeStop, planStop } from '../lifecycle/stop.js';

export interface StopCommandOptions {
  services: string[];
}

export interface StopCommandDeps {
  docker(ctx: Context): Promise<DockerSetup>;
}

export const defaultDeps: StopCommandDeps = {
  docker: (ctx) => detectDocker({ env: ctx.env, cwd: ctx.home, needCompose: false }),
};

/**
 * `msting stop [SERVICE...]`: the named services and what depends on them (default: every
 * container of the project), dependents first, each given `stop_timeout` seconds to shut down.
 * Containers and volumes stay; `msting start` brings them back.
 */
export async function run(options: StopCommandOptions, ctx: Context, deps: StopCommandDeps = defaultDeps): Promise<number> {
  const stack = await loadStack(ctx);
  if (stack.config.orchestrator === 'swarm') {
    if (options.services.length > 0) {
      throw new MstingError('USAGE', 'orchestrator swarm: stop removes the whole stack (volumes stay); it takes no service names', {
        hint: 'run `msting stop`, or `docker service scale <project>_<service>=0` for one service',
      });
    }
    const [{ stopSwarm }, { createSwarmEngine }] = await Promise.all([import('../swarm/lifecycle.js'), import('../docker/swarm.js')]);
    const removed = await stopSwarm(stack, createSwarmEngine(ctx.env), { env: ctx.env, signal: ctx.signal, timeoutS: Math.max(60, stack.config.stop_timeout * 2) });
    if (ctx.out.json) ctx.out.event({ event: 'summary', ok: true, orchestrator: 'swarm', removed, at: new Date().toISOString() });
    else ctx.out.print(removed.length === 0 ? `nothing to stop: no stack ${stack.project.name} in the swarm` : `removed ${removed.length} service${removed.length === 1 ? '' : 's'} from the swarm; volumes kept`);
    return ExitCode.ok;
  }
  const { engine } = await deps.docker(ctx);
  const containers = await engine.listContainers(stack.project.name);
  const plan = planStop(stack.plan, containers, options.services, stack.config.stop_timeout);
  const at = () => new Date().toISOString();
  const outcomes = await executeStop(plan, engine, {
    signal: ctx.signal,
    onStopping: (service) => (ctx.out.json ? ctx.out.event({ service, state: 'stopping', at: at() }) : ctx.out.info(`${service}: stopping`)),
    onStopped: (o) =>
      ctx.out.json
        ? ctx.out.event({ service: o.service, state: o.result === 'stopped' ? 'stopped' : 'already-stopped', at: at() })
        : ctx.out.info(`${o.service}: ${o.result === 'stopped' ? `stopped (${(o.elapsedMs / 1000).toFixed(1)}s)` : 'was not running'}`),
  });
  const stopped = outcomes.filter((o) => o.result === 'stopped').length;
  if (ctx.out.json) ctx.out.event({ event: 'summary', ok: true, stopped, at: at() });
  else if (outcomes.length === 0) ctx.out.print(`nothing to stop: project ${stack.project.name} has no containers${options.services.length ? ` for ${options.services.join(', ')}` : ''}`);
  else ctx.out.print(stopped === 0 ? 'nothing was running' : `stopped ${stopped} service${stopped === 1 ? '' : 's'}`);
  return ExitCode.ok;
}
