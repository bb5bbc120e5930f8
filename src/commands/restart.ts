import type { Context } from '../context.js';
import { withDependents, stackGraph, checkServiceNames } from '../lifecycle/graph.js';
import { loadStack, requireCompose } from '../lifecycle/stack.js';
import { executeStop, planStop } from '../lifecycle/stop.js';
import { portsOrThrow, renderAndStart, startAdapters, startDocker } from '../lifecycle/start-stack.js';
import { finishStart, startCallbacks } from '../ui/start-report.js';

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
export async function run(options: RestartCommandOptions, ctx: Context): Promise<number> {
  const stack = await loadStack(ctx);
  requireCompose(stack.config, 'restart', 'with orchestrator swarm, `msting update` rolls changed services, and `docker service update --force <project>_<service>` restarts one');
  const docker = await startDocker(ctx);
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
  const request = { home: ctx.home, env: ctx.env, signal: ctx.signal, services: affected, timeoutS: options.timeout ?? RESTART_TIMEOUT_S };
  const { plan, result } = await renderAndStart(stack, docker, request, startAdapters(ctx, (m) => ctx.out.debug(m)), startCallbacks(ctx));
  return finishStart(plan, result, docker.engine, ctx, 'restart');
}
