import type { ContainerInfo, DockerEngine } from '../docker/engine.js';
import type { StackPlan } from '../stack/plan.js';
import { checkServiceNames, layersOf, stackGraph, withDependents } from './graph.js';

/**
 * `stop [SERVICE...]`: the named services and everything that depends on them (default: every
 * container of the project), dependents first, each given the configured stop timeout before
 * it is killed. Pure planner, small executor.
 */

export interface StopPlan {
  /** Layers in stop order: each layer only after everything that needs it has stopped. */
  layers: { service: string; containerId: string; name: string; running: boolean }[][];
  timeoutS: number;
}

export function planStop(stack: StackPlan, containers: readonly ContainerInfo[], requested: readonly string[], timeoutS: number): StopPlan {
  const graph = stackGraph(stack);
  if (requested.length > 0) checkServiceNames(graph, requested, stack.profile);
  const wanted = requested.length > 0 ? withDependents(graph, requested) : undefined;
  const chosen = containers.filter((c) => wanted === undefined || wanted.has(c.service));
  // Containers of services outside this profile's plan stop first: nothing planned depends on them.
  const planned = chosen.filter((c) => graph.has(c.service));
  const unplanned = chosen.filter((c) => !graph.has(c.service));
  const startLayers = layersOf(graph, new Set(planned.map((c) => c.service)));
  const entry = (c: ContainerInfo) => ({ service: c.service, containerId: c.id, name: c.name, running: c.state === 'running' || c.state === 'restarting' || c.state === 'paused' });
  const layers = [...startLayers].reverse().map((layer) => planned.filter((c) => layer.includes(c.service)).map(entry));
  if (unplanned.length > 0) layers.unshift(unplanned.map(entry));
  return { layers: layers.filter((l) => l.length > 0), timeoutS };
}

export interface StopOutcome {
  service: string;
  container: string;
  result: 'stopped' | 'already-stopped';
  elapsedMs: number;
}

export async function executeStop(
  plan: StopPlan,
  engine: DockerEngine,
  options: { onStopping?(service: string): void; onStopped?(outcome: StopOutcome): void; signal: AbortSignal },
): Promise<StopOutcome[]> {
  const outcomes: StopOutcome[] = [];
  for (const layer of plan.layers) {
    if (options.signal.aborted) break;
    await Promise.all(
      layer.map(async (c) => {
        const t0 = Date.now();
        if (!c.running) {
          const outcome: StopOutcome = { service: c.service, container: c.name, result: 'already-stopped', elapsedMs: 0 };
          outcomes.push(outcome);
          options.onStopped?.(outcome);
          return;
        }
        options.onStopping?.(c.service);
        await engine.stopContainer(c.containerId, plan.timeoutS);
        const outcome: StopOutcome = { service: c.service, container: c.name, result: 'stopped', elapsedMs: Date.now() - t0 };
        outcomes.push(outcome);
        options.onStopped?.(outcome);
      }),
    );
  }
  return outcomes;
}
