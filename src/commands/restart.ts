import type { Context } from '../context.js';
import { withDependents, stackGraph, checkServiceNames } from '../lifecycle/graph.js';
import { renderForStart } from '../lifecycle/render-step.js';
import { loadStack } from '../lifecycle/stack.js';
import { planStart } from '../lifecycle/start.js';
import { executeStop, planStop } from '../lifecycle/stop.js';
import { cpuFallbackRecommendation } from '../hardware/types.js';
import { resolveProfileServices } from '../stack/plan.js';
import { defaultDeps as startDeps, finishStart, portsOrThrow, requiredFilesOrThrow, startWithProgress, type StartCommandDeps } from './start.js';

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
  const runsModels = resolveProfileServices(stack.config, stack.profile).includes('llm-gateway');
  const rendered = await renderForStart({
    config: stack.config,
    profile: stack.profile,
    home: ctx.home,
    env: ctx.env,
    recommendation: runsModels ? await deps.recommendation(stack.config, ctx) : cpuFallbackRecommendation(stack.config.llm.models),
    secrets: await deps.secrets(stack.config, ctx),
    signal: ctx.signal,
  });
  const plan = planStart(rendered.plan, affected);
  await requiredFilesOrThrow(rendered.plan, ctx.home, plan);
  const result = await startWithProgress(plan, { ...docker, project: stack.project }, ctx, options.timeout ?? RESTART_TIMEOUT_S, await deps.hooks(stack.config, ctx));
  return finishStart(plan, result, docker.engine, ctx, 'restart');
}
