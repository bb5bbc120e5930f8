import type { SwarmEngine } from '../docker/swarm.js';
import { buildSwarmStack, renderSwarmStackFile, type SwarmStack } from '../render/swarm-stack.js';
import type { SwarmRenderInput } from '../render/swarm-stack.js';
import type { StackPlan } from '../stack/plan.js';
import { buildSwarmStatus, type SwarmServiceStatus } from './status.js';

/**
 * Deploying the stack to a swarm in dependency waves. Swarm has no `depends_on`, so msting does
 * what Compose does for it: the first wave holds the services that depend on nothing; each later
 * wave is deployed (`docker stack deploy` of the stack file with every wave so far) only once the
 * services of the waves before it run and pass their health checks, and one-shot jobs completed.
 * The secrets and configs each wave names are created first, through the Engine API.
 */

/** Label on the secrets and configs msting creates for a stack (to find and prune them). */
export const OBJECT_STACK_LABEL = 'org.sting-ce.msting.stack';

export type DeployState = 'deploying' | 'healthy' | 'running' | 'completed' | 'failed';

export interface DeployCallbacks {
  onState(service: string, state: DeployState, detail?: string): void;
  onLine?(line: string): void;
}

export interface DeployDeps {
  swarm: SwarmEngine;
  env: NodeJS.ProcessEnv;
  signal: AbortSignal;
  /** Write the stack file (atomically); returns its absolute path. */
  writeStackFile(content: string): Promise<string>;
  /** Content of an install-relative file the objects hold (rendered, or host-held such as TLS and Vault token files). */
  contentOf(path: string): string | undefined;
  sleep?(ms: number): Promise<void>;
}

export interface DeployRequest {
  plan: StackPlan;
  /** The render input without `services` (each wave sets it). */
  render: Omit<SwarmRenderInput, 'services'>;
  /** Services per wave, in order. */
  waves: string[][];
  timeoutS: number;
  /** Ask the registry for every image's digest (update), or only for changed references (start). */
  resolveImage?: 'always' | 'changed';
  /** Failed tasks of one service before msting gives up on it (Swarm keeps retrying). */
  maxFailures?: number;
}

export interface DeployResult {
  failed: { service: string; detail: string }[];
  stack: SwarmStack;
  warnings: string[];
}

const POLL_MS = 1000;

/** Deploy wave by wave, waiting for each; stops at the first wave with a failed service. */
export async function deployInWaves(request: DeployRequest, deps: DeployDeps, callbacks: DeployCallbacks): Promise<DeployResult> {
  const sleep = deps.sleep ?? ((ms) => new Promise<void>((r) => setTimeout(r, ms)));
  const deadline = Date.now() + request.timeoutS * 1000;
  const included = new Set<string>();
  let stack: SwarmStack | undefined;
  const warnings = new Set<string>();
  for (const wave of request.waves) {
    wave.forEach((s) => included.add(s));
    stack = buildSwarmStack({ ...request.render, services: new Set(included) });
    stack.warnings.forEach((w) => warnings.add(w));
    for (const o of stack.objects) {
      const content = deps.contentOf(o.source);
      if (content === undefined) throw new Error(`no content for ${o.source}`);
      const labels = { [OBJECT_STACK_LABEL]: request.plan.project };
      if (o.kind === 'secret') await deps.swarm.createSecret(o.name, content, labels);
      else await deps.swarm.createConfig(o.name, content, labels);
    }
    const file = await deps.writeStackFile(renderSwarmStackFile(stack));
    for (const s of wave) callbacks.onState(s, 'deploying');
    await deps.swarm.deployStack(file, request.plan.project, { env: deps.env, signal: deps.signal, onLine: callbacks.onLine, resolveImage: request.resolveImage ?? 'changed' });
    const failed = await waitFor(wave, request, deps, callbacks, deadline, sleep);
    if (failed.length > 0) return { failed, stack, warnings: [...warnings] };
  }
  if (stack === undefined) throw new Error('nothing to deploy');
  await pruneObjects(deps.swarm, request.plan.project, new Set(stack.objects.map((o) => o.name)));
  return { failed: [], stack, warnings: [...warnings] };
}

async function waitFor(
  wave: readonly string[],
  request: DeployRequest,
  deps: DeployDeps,
  callbacks: DeployCallbacks,
  deadline: number,
  sleep: (ms: number) => Promise<void>,
): Promise<{ service: string; detail: string }[]> {
  const pending = new Set(wave);
  const failed: { service: string; detail: string }[] = [];
  const since = new Date(Date.now() - 2000).toISOString();
  const maxFailures = request.maxFailures ?? 3;
  let last = new Map<string, SwarmServiceStatus>();
  while (pending.size > 0) {
    const [services, nodes] = await Promise.all([deps.swarm.listServices(request.plan.project), deps.swarm.listNodes()]);
    const tasks = await deps.swarm.listTasks(services.map((s) => s.id));
    const report = buildSwarmStatus({ plan: { ...request.plan, services: request.plan.services.filter((s) => pending.has(s.name)) }, services, tasks, nodes });
    last = new Map(report.services.map((s) => [s.service, s]));
    for (const s of report.services) {
      if (s.ok) {
        pending.delete(s.service);
        callbacks.onState(s.service, s.health === 'completed' ? 'completed' : s.health === 'running' ? 'running' : 'healthy');
        continue;
      }
      const swarmService = services.find((x) => x.name === s.swarm_name);
      const failures = tasks.filter((t) => t.serviceId === swarmService?.id && (t.state === 'failed' || t.state === 'rejected') && t.timestamp >= since);
      if ((s.job && s.health === 'failed') || failures.length >= maxFailures) {
        pending.delete(s.service);
        const detail = s.detail ?? 'failed';
        failed.push({ service: s.service, detail });
        callbacks.onState(s.service, 'failed', detail);
      }
    }
    if (pending.size === 0) break;
    if (Date.now() > deadline) {
      for (const service of pending) {
        const detail = `not up after ${request.timeoutS}s: ${last.get(service)?.detail ?? 'no task'}`;
        failed.push({ service, detail });
        callbacks.onState(service, 'failed', detail);
      }
      break;
    }
    if (deps.signal.aborted) throw deps.signal.reason;
    await sleep(POLL_MS);
  }
  return failed;
}

/** Remove this stack's secrets and configs that the current stack file no longer names (old contents). */
export async function pruneObjects(swarm: SwarmEngine, project: string, keep: ReadonlySet<string>): Promise<number> {
  const labels = { [OBJECT_STACK_LABEL]: project };
  let removed = 0;
  for (const s of await swarm.listSecrets(labels)) if (!keep.has(s.name) && (await swarm.removeSecret(s.id))) removed++;
  for (const c of await swarm.listConfigs(labels)) if (!keep.has(c.name) && (await swarm.removeConfig(c.id))) removed++;
  return removed;
}
