import { usageError } from '../errors.js';
import type { DependencyCondition, StackPlan } from '../stack/plan.js';

/**
 * Dependency questions about a planned stack, answered from `dependsOn` alone. Pure.
 */

export interface ServiceNode {
  name: string;
  dependsOn: { service: string; condition: DependencyCondition }[];
}

export type StackGraph = ReadonlyMap<string, ServiceNode>;

export function stackGraph(plan: Pick<StackPlan, 'services'>): StackGraph {
  return new Map(plan.services.map((s) => [s.name, { name: s.name, dependsOn: s.dependsOn.map((d) => ({ ...d })) }]));
}

/** Throws a usage error naming the services of the profile when one is unknown. */
export function checkServiceNames(graph: StackGraph, requested: readonly string[], profile: string): void {
  const unknown = requested.filter((s) => !graph.has(s));
  if (unknown.length > 0) {
    throw usageError(
      `${unknown.map((s) => `"${s}"`).join(', ')} ${unknown.length === 1 ? 'is not a service' : 'are not services'} of profile ${profile}`,
      `services: ${[...graph.keys()].sort().join(', ')}`,
    );
  }
}

/** The requested services and everything they need, transitively. */
export function withDependencies(graph: StackGraph, requested: readonly string[]): Set<string> {
  const out = new Set<string>();
  const visit = (name: string): void => {
    if (out.has(name) || !graph.has(name)) return;
    out.add(name);
    for (const dep of graph.get(name)!.dependsOn) visit(dep.service);
  };
  requested.forEach(visit);
  return out;
}

/** The requested services and everything that needs them, transitively. */
export function withDependents(graph: StackGraph, requested: readonly string[]): Set<string> {
  const out = new Set<string>();
  const visit = (name: string): void => {
    if (out.has(name)) return;
    out.add(name);
    for (const node of graph.values()) if (node.dependsOn.some((d) => d.service === name)) visit(node.name);
  };
  requested.forEach(visit);
  return out;
}

/**
 * Layers of a subset: each layer depends only on earlier layers (dependencies outside the
 * subset are taken as already there). Names within a layer are sorted.
 */
export function layersOf(graph: StackGraph, subset: Iterable<string>): string[][] {
  const remaining = new Set(subset);
  const done = new Set<string>();
  const layers: string[][] = [];
  while (remaining.size > 0) {
    const layer = [...remaining]
      .filter((name) => (graph.get(name)?.dependsOn ?? []).every((d) => done.has(d.service) || !remaining.has(d.service)))
      .sort();
    if (layer.length === 0) throw new Error(`dependency cycle among ${[...remaining].sort().join(', ')}`);
    for (const name of layer) {
      remaining.delete(name);
      done.add(name);
    }
    layers.push(layer);
  }
  return layers;
}
