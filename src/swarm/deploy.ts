import type { SwarmEngine } from '../docker/swarm.js';
import { buildSwarmStack, renderSwarmStackFile, type SwarmStack } from '../render/swarm-stack.js';
import type { SwarmRenderInput } from '../render/swarm-stack.js';
import type { StackPlan } from '../stack/plan.js';
import { buildSwarmStatus, type SwarmServiceStatus } from './status.js';

/**
 * Deploying the stack to a swarm in dependency order. Swarm has no `depends_on`, so msting does
 * what Compose does for it: a service is added to the stack file, and `docker stack deploy` runs
 * again with everything so far, once the services it depends on run and pass their health checks
 * (one-shot jobs: completed). The secrets and configs each deploy names are created first,
 * through the Engine API.
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
  /** The render input without `services` (each deploy sets it). */
  render: Omit<SwarmRenderInput, 'services'>;
  /** The services to deploy, as dependency layers; one layer: deployed together, without waiting. */
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

/**
 * Deploy as Compose starts: a service joins the stack file (and `docker stack deploy` runs again)
 * as soon as every service it depends on is healthy, or completed for a one-shot job, so a slow
 * service holds up only what needs it. `waves` gives the services to deploy; with one wave the
 * dependencies are not waited for (update: every service is there already). Stops at the first
 * service that fails, naming it.
 */
export async function deployInWaves(request: DeployRequest, deps: DeployDeps, callbacks: DeployCallbacks): Promise<DeployResult> {
  const sleep = deps.sleep ?? ((ms) => new Promise<void>((r) => setTimeout(r, ms)));
  const deadline = Date.now() + request.timeoutS * 1000;
  const wanted = new Set(request.waves.flat());
  const ordered = request.waves.length > 1;
  const needs = new Map(request.plan.services.filter((s) => wanted.has(s.name)).map((s) => [s.name, ordered ? s.dependsOn.map((d) => d.service).filter((d) => wanted.has(d)) : []]));
  const included = new Set<string>();
  const done = new Set<string>();
  const failed: { service: string; detail: string }[] = [];
  const warnings = new Set<string>();
  const since = new Date(Date.now() - 2000).toISOString();
  const maxFailures = request.maxFailures ?? 3;
  let stack: SwarmStack | undefined;
  let last = new Map<string, SwarmServiceStatus>();

  const deployBatch = async (batch: string[]) => {
    batch.forEach((s) => included.add(s));
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
    for (const s of batch) callbacks.onState(s, 'deploying');
    await deps.swarm.deployStack(file, request.plan.project, { env: deps.env, signal: deps.signal, onLine: callbacks.onLine, resolveImage: request.resolveImage ?? 'changed' });
  };

  while (done.size < wanted.size) {
    const ready = [...needs].filter(([name, on]) => !included.has(name) && on.every((d) => done.has(d))).map(([name]) => name);
    if (ready.length > 0) await deployBatch(ready.sort());
    const watching = new Set([...included].filter((s) => !done.has(s)));
    const [services, nodes] = await Promise.all([deps.swarm.listServices(request.plan.project), deps.swarm.listNodes()]);
    const tasks = await deps.swarm.listTasks(services.map((s) => s.id));
    const report = buildSwarmStatus({ plan: { ...request.plan, services: request.plan.services.filter((s) => watching.has(s.name)) }, services, tasks, nodes });
    last = new Map(report.services.map((s) => [s.service, s]));
    for (const s of report.services) {
      if (s.ok) {
        done.add(s.service);
        callbacks.onState(s.service, s.health === 'completed' ? 'completed' : s.health === 'running' ? 'running' : 'healthy');
        continue;
      }
      const swarmService = services.find((x) => x.name === s.swarm_name);
      const count = tasks.filter((t) => t.serviceId === swarmService?.id && (t.state === 'failed' || t.state === 'rejected') && t.timestamp >= since).length;
      if ((s.job && s.health === 'failed') || count >= maxFailures) failed.push({ service: s.service, detail: s.detail ?? 'failed' });
    }
    if (failed.length === 0 && done.size < wanted.size && Date.now() > deadline) {
      for (const service of [...wanted].filter((x) => !done.has(x)).sort()) {
        failed.push({ service, detail: included.has(service) ? `not up after ${request.timeoutS}s: ${last.get(service)?.detail ?? 'no task'}` : `not deployed: waiting for ${needs.get(service)!.filter((d) => !done.has(d)).join(', ')}` });
      }
    }
    if (failed.length > 0) {
      for (const f of failed) callbacks.onState(f.service, 'failed', f.detail);
      return { failed, stack: stack!, warnings: [...warnings] };
    }
    if (done.size === wanted.size) break;
    if (deps.signal.aborted) throw deps.signal.reason;
    // A batch that just became ready is deployed at once; otherwise wait for the engine.
    if (![...needs].some(([name, on]) => !included.has(name) && on.every((d) => done.has(d)))) await sleep(POLL_MS);
  }
  if (stack === undefined) throw new Error('nothing to deploy');
  await pruneObjects(deps.swarm, request.plan.project, new Set((stack as SwarmStack).objects.map((o) => o.name)));
  return { failed: [], stack, warnings: [...warnings] };
}

/** Remove this stack's secrets and configs that the current stack file no longer names (old contents). */
export async function pruneObjects(swarm: SwarmEngine, project: string, keep: ReadonlySet<string>): Promise<number> {
  const labels = { [OBJECT_STACK_LABEL]: project };
  let removed = 0;
  for (const s of await swarm.listSecrets(labels)) if (!keep.has(s.name) && (await swarm.removeSecret(s.id))) removed++;
  for (const c of await swarm.listConfigs(labels)) if (!keep.has(c.name) && (await swarm.removeConfig(c.id))) removed++;
  return removed;
}
