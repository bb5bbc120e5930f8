import type { Context } from '../context.js';
import { withDependents, stackGraph, checkServiceNames } from '../lifecycle/graph.js';
import { loadStack } from '../lifecycle/stack.js';
import { executeStop, planStop } from '../lifecycle/stop.js';
import { defaultDeps as startDeps, portsOrThrow, renderAndStart, type StartCommandDeps } from './start.js';

export interface RestartCommandOptions {
  services: string[];
  /** Seconds to wait for health after starting again. */
  timeout?: number | undefined;
}

/** Seconds `restart` waits for health, as `start`'s default. */
export const RESTART_TIMEOUT_S = 300;

/**
 * `msting restart [SERVICE...]`: stop the named services and what depends on them (dependents
 * first, `stop_timeout` each), then start them again in dependency order and wait until
 * healthy, exactly as `start` does.
 */
export async function run(options: RestartCommandOptions, ctx: Context, deps: StartCommandDeps = startDeps): Promise<number> {
  const stack = await loadStack(ctx);
  const docker = await deps.docker(ctx, true);
  const graph = stackGraph(stack.plan);
  if (options.services.length > 0) checkServiceNames(graph, options.services, stack.profile);
  const affected = options.services.length > 0 ? [...withDependents(graph, options.services)] : stack.plan.services.map((s) => s.name);

  const containers = await docker.engine.listContainers(stack.project.name);
  const stopPlan = planStop(stack.plan, containers, options.services, stack.config.stop_timeout);
  await executeStop(stopPlan, docker.engine, {
    signal: ctx.signal,
    onStopping: (service) => (ctx.out.json ? ctx.out.event({ service, state: 'stopping', at: new Date().toISOString() }) : ctx.out.info(`${service}: stopping`)),
  });

  await portsOrThrow(stack, docker.engine);
  return renderAndStart(stack, docker, ctx, { services: affected, timeoutS: options.timeout ?? RESTART_TIMEOUT_S, verb: 'restart' }, deps);
}
