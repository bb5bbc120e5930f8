import { describe, expect, it } from 'vitest';
import { MstingError } from '../../../src/errors.js';
import { layersOf, stackGraph, withDependencies, withDependents } from '../../../src/lifecycle/graph.js';
import { judge, planStart } from '../../../src/lifecycle/start.js';
import { planStop } from '../../../src/lifecycle/stop.js';
import { container, details, makePlan } from './helpers.js';

describe('dependency graph of the default profile', () => {
  const plan = makePlan();
  const graph = stackGraph(plan);

  it('a service brings what it needs, transitively', () => {
    expect([...withDependencies(graph, ['kratos'])].sort()).toEqual(['db', 'kratos', 'kratos-migrate', 'mailpit']);
  });

  it('stopping a service takes what depends on it, transitively', () => {
    expect([...withDependents(graph, ['redis'])].sort()).toEqual(['app', 'frontend', 'knowledge', 'messaging', 'redis']);
  });

  it('layers put every service after what it depends on', () => {
    const layers = layersOf(graph, graph.keys());
    const index = new Map(layers.flatMap((layer, i) => layer.map((s) => [s, i] as const)));
    for (const node of graph.values()) for (const dep of node.dependsOn) expect(index.get(dep.service)!).toBeLessThan(index.get(node.name)!);
    expect(layers[0]).toEqual(['chroma', 'db', 'mailpit', 'redis', 'vault']);
  });
});

describe('planStart', () => {
  const plan = makePlan();

  it('the whole profile by default, in start order, one-shot jobs waited on by completion', () => {
    const start = planStart(plan, []);
    expect(start.items).toHaveLength(plan.services.length);
    expect(start.items.find((i) => i.service === 'kratos-migrate')?.target).toBe('completed');
    expect(start.items.find((i) => i.service === 'db')?.target).toBe('healthy');
    const order = start.items.map((i) => i.service);
    expect(order.indexOf('kratos-migrate')).toBeLessThan(order.indexOf('kratos'));
    expect(order.indexOf('app')).toBeLessThan(order.indexOf('frontend'));
  });

  it('named services come with their dependencies only', () => {
    expect(planStart(plan, ['messaging']).items.map((i) => i.service)).toEqual(['db', 'redis', 'messaging']);
  });

  it('a service outside the profile is a usage error naming the services', () => {
    try {
      planStart(plan, ['grafana']);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(MstingError);
      expect((err as MstingError).exitCode).toBe(2);
      expect((err as MstingError).message).toContain('"grafana" is not a service of profile default');
      expect((err as MstingError).hint).toContain('kratos-migrate');
    }
  });
});

describe('judge', () => {
  it('healthy, running without a health check, completed jobs', () => {
    expect(judge('healthy', details())).toEqual({ done: true, state: 'healthy' });
    expect(judge('healthy', details({ hasHealthcheck: false, health: 'none' }))).toEqual({ done: true, state: 'running' });
    expect(judge('completed', details({ state: 'exited', exitCode: 0 }))).toEqual({ done: true, state: 'completed' });
  });

  it('still starting is neither done nor failed', () => {
    expect(judge('healthy', details({ health: 'starting' }))).toEqual({ done: false, failed: false });
    expect(judge('completed', details({ state: 'running' }))).toEqual({ done: false, failed: false });
  });

  it('failures say why', () => {
    expect(judge('healthy', details({ health: 'unhealthy', lastHealthOutput: 'trying 127.0.0.1\nconnection refused\n' }))).toEqual({
      done: false,
      failed: true,
      detail: 'health check failing: connection refused',
    });
    expect(judge('healthy', details({ state: 'exited', exitCode: 3 }))).toMatchObject({ failed: true, detail: 'exited with code 3' });
    expect(judge('healthy', details({ state: 'exited', exitCode: 137, oomKilled: true }))).toMatchObject({ detail: 'killed: out of memory' });
    expect(judge('completed', details({ state: 'exited', exitCode: 1 }))).toMatchObject({ failed: true, detail: 'exited with code 1' });
    expect(judge('healthy', details({ state: 'restarting', exitCode: 1 }))).toMatchObject({ failed: true });
  });
});

describe('planStop', () => {
  const plan = makePlan();

  it('dependents stop before what they need', () => {
    const containers = plan.services.map((s) => container(s.name));
    const stop = planStop(plan, containers, [], 30);
    const position = (s: string) => stop.layers.findIndex((layer) => layer.some((c) => c.service === s));
    expect(position('frontend')).toBeLessThan(position('app'));
    expect(position('app')).toBeLessThan(position('db'));
    expect(position('kratos')).toBeLessThan(position('kratos-migrate'));
    expect(stop.timeoutS).toBe(30);
  });

  it('a named service takes its dependents and nothing else', () => {
    const containers = plan.services.map((s) => container(s.name));
    const stop = planStop(plan, containers, ['redis'], 10);
    expect(stop.layers.flat().map((c) => c.service).sort()).toEqual(['app', 'frontend', 'knowledge', 'messaging', 'redis']);
    expect(stop.layers.at(-1)!.map((c) => c.service)).toEqual(['redis']);
  });

  it('containers from another profile stop first; stopped ones are marked', () => {
    const stop = planStop(plan, [container('db', { state: 'exited' }), container('grafana')], [], 10);
    expect(stop.layers[0]!.map((c) => c.service)).toEqual(['grafana']);
    expect(stop.layers[1]).toEqual([expect.objectContaining({ service: 'db', running: false })]);
  });
});
