import type { SwarmEngine } from '../docker/swarm.js';
import { MstingError } from '../errors.js';
import type { LoadedStack } from '../lifecycle/stack.js';
import { pruneObjects } from './deploy.js';
import { requireManager } from './start.js';
import { buildSwarmStatus, swarmServiceName, type SwarmStatusReport } from './status.js';

/** `status`, `stop` and `logs` against a swarm. */

export async function swarmStatus(stack: LoadedStack, swarm: SwarmEngine): Promise<SwarmStatusReport> {
  await requireManager(swarm);
  const [services, nodes] = await Promise.all([swarm.listServices(stack.config.project.name), swarm.listNodes()]);
  const tasks = await swarm.listTasks(services.map((s) => s.id));
  return buildSwarmStatus({ plan: stack.plan, services, tasks, nodes });
}

/**
 * `stop`: `docker stack rm` (services and the stack's networks; volumes stay, so `start` finds
 * the data again), then the Swarm secrets and configs msting made for the stack, once no task
 * holds them any more. Returns the services that were removed.
 */
export async function stopSwarm(
  stack: LoadedStack,
  swarm: SwarmEngine,
  options: { env: NodeJS.ProcessEnv; signal: AbortSignal; timeoutS: number; sleep?: (ms: number) => Promise<void> },
): Promise<string[]> {
  await requireManager(swarm);
  const sleep = options.sleep ?? ((ms) => new Promise<void>((r) => setTimeout(r, ms)));
  const project = stack.config.project.name;
  const services = await swarm.listServices(project);
  if (services.length > 0) await swarm.removeStack(project, { env: options.env, signal: options.signal });
  const deadline = Date.now() + options.timeoutS * 1000;
  // Secrets are removable once the tasks using them are gone; stack rm returns before that.
  for (;;) {
    await pruneObjects(swarm, project, new Set());
    const left = [...(await swarm.listSecrets({ 'org.sting-ce.msting.stack': project })), ...(await swarm.listConfigs({ 'org.sting-ce.msting.stack': project }))];
    if (left.length === 0) break;
    if (Date.now() > deadline) {
      throw new MstingError('EXTERNAL', `the stack was removed, but ${left.length} of its Swarm secrets and configs are still in use after ${options.timeoutS}s`, {
        hint: '`docker stack ps` shows what still runs; `msting stop` again removes them',
      });
    }
    await sleep(500);
  }
  return services.map((s) => s.name.slice(project.length + 1)).sort();
}

/** `logs`: `docker service logs` of each service, lines prefixed with the service name. */
export async function swarmLogs(
  stack: LoadedStack,
  swarm: SwarmEngine,
  services: readonly string[],
  options: { env: NodeJS.ProcessEnv; signal: AbortSignal; follow: boolean; tail?: number | undefined; since?: string | undefined; timestamps?: boolean },
  onLine: (service: string, line: string) => void,
): Promise<void> {
  await requireManager(swarm);
  const known = new Set(stack.plan.services.map((s) => s.name));
  const unknown = services.filter((s) => !known.has(s));
  if (unknown.length > 0) {
    throw new MstingError('USAGE', `not a service of profile ${stack.profile}: ${unknown.join(', ')}`, { hint: `services: ${[...known].sort().join(', ')}` });
  }
  const deployed = new Set((await swarm.listServices(stack.config.project.name)).map((s) => s.name));
  const chosen = (services.length > 0 ? services : [...known].sort()).filter((s) => deployed.has(swarmServiceName(stack.config.project.name, s)));
  await Promise.all(
    chosen.map((service) =>
      swarm.serviceLogs(swarmServiceName(stack.config.project.name, service), {
        ...options,
        onLine: (line) => onLine(service, line),
      }),
    ),
  );
}
