import type { Context } from '../context.js';
import type { DockerSetup } from '../docker/detect.js';
import { loadStack } from '../lifecycle/stack.js';
import { portsOrThrow, renderAndStart, startAdapters, startDocker, type StartAdapters } from '../lifecycle/start-stack.js';
import { finishStart, startCallbacks } from '../ui/start-report.js';

export interface StartCommandOptions {
  services: string[];
  profile?: string | undefined;
  /** Seconds to wait for every service to reach its target. */
  timeout: number;
}

/** Outside things `start` needs, replaceable in tests. */
export interface StartCommandDeps {
  docker(ctx: Context): Promise<DockerSetup>;
  adapters(ctx: Context): StartAdapters;
}

export const defaultDeps: StartCommandDeps = {
  docker: startDocker,
  adapters: (ctx) => startAdapters(ctx, (m) => ctx.out.debug(m)),
};

/**
 * `msting start [SERVICE...]`: check ports, render what changed, then start the profile's
 * services in dependency order and wait for each (healthy, running, or completed for one-shot
 * jobs). Once Vault runs it is unsealed and the env files are rendered again with its secrets,
 * before anything that depends on it starts. On failure: the failing services' last log lines,
 * what they depend on, exit 5, and everything left in place for inspection.
 */
export async function run(options: StartCommandOptions, ctx: Context, deps: StartCommandDeps = defaultDeps): Promise<number> {
  const stack = await loadStack(ctx, { profile: options.profile });
  if (stack.config.orchestrator === 'swarm') {
    const [{ startSwarm }, { swarmStartDeps }, { finishSwarmDeploy, swarmDeployCallbacks }] = await Promise.all([
      import('../swarm/start.js'),
      import('../swarm/adapters.js'),
      import('../ui/swarm-report.js'),
    ]);
    const request = { home: ctx.home, env: ctx.env, signal: ctx.signal, services: options.services, timeoutS: options.timeout };
    const result = await startSwarm(stack, request, swarmStartDeps(ctx), swarmDeployCallbacks(ctx));
    return finishSwarmDeploy(result, ctx, 'start');
  }
  const docker = await deps.docker(ctx);
  await portsOrThrow(stack, docker.engine);
  const request = { home: ctx.home, env: ctx.env, signal: ctx.signal, services: options.services, timeoutS: options.timeout };
  const { plan, result } = await renderAndStart(stack, docker, request, deps.adapters(ctx), startCallbacks(ctx));
  return finishStart(plan, result, docker.engine, ctx, 'start');
}
