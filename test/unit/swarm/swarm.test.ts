import { describe, expect, it } from 'vitest';
import type { SwarmEngine, SwarmNode, SwarmService, SwarmTask } from '../../../src/docker/swarm.js';
import { deployInWaves } from '../../../src/swarm/deploy.js';
import { advertisedProfile, findNode, nodeRow } from '../../../src/swarm/nodes.js';
import { gpuResourceKind } from '../../../src/swarm/start.js';
import { buildSwarmStatus } from '../../../src/swarm/status.js';
import { TLS_FILES } from '../../../src/stack/plan.js';
import { FAKE_SECRETS, makeConfig, render } from '../render/fixtures.js';

const GiB = 1024 ** 3;

function node(id: string, extra: Partial<SwarmNode> = {}): SwarmNode {
  return {
    id,
    version: 1,
    hostname: `host-${id}`,
    role: 'worker',
    availability: 'active',
    state: 'ready',
    address: '10.0.0.1',
    labels: {},
    nanoCpus: 8e9,
    memoryBytes: 32 * GiB,
    genericResources: [],
    leader: false,
    ...extra,
  };
}

function svc(project: string, name: string, id = name): SwarmService {
  return { id, name: `${project}_${name}`, labels: {}, replicas: 1, image: 'x', hasHealthcheck: true, update: null };
}

function task(serviceId: string, nodeId: string, state: string, extra: Partial<SwarmTask> = {}): SwarmTask {
  return { id: `${serviceId}-${state}-${nodeId}`, serviceId, nodeId, slot: 1, desiredState: 'running', state, message: state, error: null, exitCode: null, timestamp: '2026-01-01T00:00:00Z', ...extra };
}

const config = makeConfig({ orchestrator: 'swarm' });
const rendered = render(config, 'default');
const plan = rendered.plan;
const project = plan.project;

describe('swarm status', () => {
  const nodes = [node('m', { role: 'manager' }), node('w', { labels: { 'sting.gpu': 'true' } })];

  it('says per service how many tasks run of those desired, on which node, and healthy only when all do', () => {
    const services = plan.services.map((s) => svc(project, s.name));
    const tasks = plan.services.map((s) => task(s.name, s.name === 'frontend' ? 'w' : 'm', s.restart === 'no' ? 'complete' : 'running', s.restart === 'no' ? { desiredState: 'shutdown' } : {}));
    const report = buildSwarmStatus({ plan, services, tasks, nodes });
    expect(report.healthy).toBe(true);
    const frontend = report.services.find((s) => s.service === 'frontend')!;
    expect(frontend).toMatchObject({ desired: 1, running: 1, nodes: ['host-w'], node_ids: ['w'], health: 'healthy', ok: true });
    expect(report.services.find((s) => s.service === 'kratos-migrate')).toMatchObject({ job: true, health: 'completed', ok: true });
  });

  it('reports a task on a node that is down as lost, and the replacement that cannot be placed with its reason', () => {
    const down = [nodes[0]!, { ...nodes[1]!, state: 'down' }];
    const services = plan.services.map((s) => svc(project, s.name));
    const tasks = plan.services.flatMap((s) =>
      s.name === 'frontend'
        ? [
            task('frontend', 'w', 'running', { desiredState: 'shutdown', id: 'old-task-0001' }),
            task('frontend', '', 'pending', { nodeId: null, message: 'pending task scheduling', error: 'no suitable node (scheduling constraints not satisfied on 2 nodes)', timestamp: '2026-01-01T00:01:00Z' }),
          ]
        : [task(s.name, 'm', s.restart === 'no' ? 'complete' : 'running')],
    );
    const report = buildSwarmStatus({ plan, services, tasks: [...tasks].sort((a, b) => (a.timestamp < b.timestamp ? 1 : -1)), nodes: down });
    const frontend = report.services.find((s) => s.service === 'frontend')!;
    expect(report.healthy).toBe(false);
    expect(frontend).toMatchObject({ running: 0, health: 'starting', ok: false, lost: [{ node: 'host-w', node_id: 'w', task: 'old-task-000' }] });
    expect(frontend.detail).toMatch(/no suitable node/);
  });

  it('a service that is not deployed is missing', () => {
    const report = buildSwarmStatus({ plan, services: [], tasks: [], nodes });
    expect(report.services.every((s) => s.health === 'missing' && !s.ok)).toBe(true);
  });
});

describe('swarm nodes', () => {
  it('sizes a remote node from what its engine advertises, GPUs included', () => {
    const gpuNode = node('g', { genericResources: [{ kind: 'NVIDIA-GPU', value: 2 }], memoryBytes: 64 * GiB });
    const profile = advertisedProfile(gpuNode);
    expect(profile.gpus).toHaveLength(2);
    expect(profile.cpu.cores).toBe(8);
    const row = nodeRow(gpuNode, config, profile, 'advertised');
    expect(row.gpus).toEqual([{ kind: 'NVIDIA-GPU', value: 2 }]);
    expect(row.recommends.source).toBe('advertised');
    const cpuRow = nodeRow(node('c'), config, advertisedProfile(node('c')), 'advertised');
    expect(cpuRow.recommends).toMatchObject({ device: 'cpu', gpu_label: false });
  });

  it('finds a node by hostname, id or id prefix, and names the nodes when it cannot', () => {
    const nodes = [node('abc123'), node('abd456')];
    expect(findNode(nodes, 'host-abc123').id).toBe('abc123');
    expect(findNode(nodes, 'abd').id).toBe('abd456');
    expect(() => findNode(nodes, 'ab')).toThrow(/names 2 nodes/);
    expect(() => findNode(nodes, 'zzz')).toThrow(/no swarm node "zzz"/);
  });

  it('asks for a GPU as a generic resource only when a GPU-labelled node advertises one', () => {
    expect(gpuResourceKind([node('a', { genericResources: [{ kind: 'NVIDIA-GPU', value: 1 }] })])).toBeNull();
    expect(gpuResourceKind([node('a', { labels: { 'sting.gpu': 'true' }, genericResources: [{ kind: 'NVIDIA-GPU', value: 1 }] })])).toBe('NVIDIA-GPU');
  });
});

describe('deploy in waves', () => {
  function fakeSwarm(failing: string | null = null) {
    const deployed: string[][] = [];
    const created: { name: string; data: string }[] = [];
    let current: string[] = [];
    const swarm = {
      createSecret: async (name: string, data: string) => void created.push({ name, data }),
      createConfig: async (name: string, data: string) => void created.push({ name, data }),
      deployStack: async (file: string) => {
        current = Object.keys((JSON.parse(file) as { services: Record<string, unknown> }).services);
        deployed.push(current);
      },
      listServices: async () => current.map((s) => svc(project, s)),
      listNodes: async () => [node('m', { role: 'manager' })],
      listTasks: async () =>
        current.flatMap((s) =>
          s === failing
            ? [1, 2, 3].map((n) => task(s, 'm', 'failed', { id: `failed-${n}`, error: 'task: non-zero exit (1)', timestamp: new Date().toISOString() }))
            : [task(s, 'm', s === 'kratos-migrate' ? 'complete' : 'running')],
        ),
      listSecrets: async () => [],
      listConfigs: async () => [],
    } as unknown as SwarmEngine;
    return { swarm, deployed, created };
  }
  const host: Record<string, string> = { 'secrets/vault-token-app': 't', [TLS_FILES.cert]: 'c', [TLS_FILES.key]: 'k' };
  const contentOf = (path: string) => rendered.files.get(path)?.content ?? host[path];
  const request = {
    plan,
    render: {
      plan,
      home: '/srv',
      rendered: [...rendered.files.keys()],
      envFiles: new Set(plan.services.map((s) => s.name).filter((n) => rendered.files.has(`env/${n}.env`))),
      contentOf,
      imageProcess: () => ({ entrypoint: ['/e'], cmd: [] }),
      gpuResource: null,
      routingMesh: true,
    },
    waves: plan.layers,
    timeoutS: 5,
  };

  it('deploys each dependency layer once the one before is up, creating the secrets first', async () => {
    const { swarm, deployed, created } = fakeSwarm();
    const states: string[] = [];
    const result = await deployInWaves(
      request,
      { swarm, env: {}, signal: new AbortController().signal, contentOf, writeStackFile: async (content) => JSON.stringify((await import('yaml')).parse(content)), sleep: async () => undefined },
      { onState: (service, state) => states.push(`${service}:${state}`) },
    );
    expect(result.failed).toEqual([]);
    expect(deployed).toHaveLength(plan.layers.length);
    expect(deployed[0]!.sort()).toEqual([...plan.layers[0]!].sort());
    expect(deployed.at(-1)!.sort()).toEqual(plan.services.map((s) => s.name).sort());
    expect(created.some((c) => c.data === contentOf('env/db.env'))).toBe(true);
    expect(created.some((c) => c.data.includes(FAKE_SECRETS.get('db.postgres')!))).toBe(true);
    expect(states).toContain('kratos-migrate:completed');
  });

  it('stops at the wave whose service keeps failing, naming it', async () => {
    const { swarm, deployed } = fakeSwarm('db');
    const result = await deployInWaves(
      request,
      { swarm, env: {}, signal: new AbortController().signal, contentOf, writeStackFile: async (content) => JSON.stringify((await import('yaml')).parse(content)), sleep: async () => undefined },
      { onState: () => undefined },
    );
    expect(result.failed).toEqual([{ service: 'db', detail: expect.stringContaining('non-zero exit') }]);
    expect(deployed.length).toBeLessThan(plan.layers.length);
  });
});
