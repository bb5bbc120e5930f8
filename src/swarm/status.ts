import type { SwarmNode, SwarmService, SwarmTask } from '../docker/swarm.js';
import type { StackPlan } from '../stack/plan.js';

/**
 * `status` against a swarm, as data: per service of the profile its desired and running tasks,
 * the nodes they run on, health, and the tasks lost with a node that went down. Pure: the
 * engine's services, tasks and nodes in, report out.
 *
 * A task with a health check reaches `running` only once the check passes (Swarm holds it in
 * `starting` until then, and replaces it when the check fails), so a running task is a healthy one.
 */

export type SwarmHealth = 'healthy' | 'running' | 'starting' | 'completed' | 'failed' | 'down' | 'missing';

export interface SwarmTaskLost {
  node: string;
  node_id: string;
  task: string;
  since: string;
}

export interface SwarmServiceStatus {
  service: string;
  /** Swarm's name: `<project>_<service>`. */
  swarm_name: string;
  desired: number;
  running: number;
  /** Hostnames of the nodes its running tasks are on. */
  nodes: string[];
  /** Their node ids (two nodes may share a hostname). */
  node_ids: string[];
  health: SwarmHealth;
  /** Tasks still marked running on a node that is down: lost until it comes back. */
  lost: SwarmTaskLost[];
  /** Why it is not running (the newest task's state and message), null when it is. */
  detail: string | null;
  /** One-shot job (kratos-migrate): done when its task completed. */
  job: boolean;
  ok: boolean;
}

export interface SwarmNodeSummary {
  id: string;
  hostname: string;
  role: string;
  state: string;
  availability: string;
  labels: Record<string, string>;
}

export interface SwarmStatusReport {
  orchestrator: 'swarm';
  project: string;
  profile: string;
  healthy: boolean;
  services: SwarmServiceStatus[];
  nodes: SwarmNodeSummary[];
}

/** The name `docker stack deploy` gives a stack's service. */
export function swarmServiceName(project: string, service: string): string {
  return `${project}_${service}`;
}

export function buildSwarmStatus(input: { plan: StackPlan; services: readonly SwarmService[]; tasks: readonly SwarmTask[]; nodes: readonly SwarmNode[] }): SwarmStatusReport {
  const { plan } = input;
  const nodes = new Map(input.nodes.map((n) => [n.id, n]));
  const hostname = (id: string | null) => (id === null ? '?' : (nodes.get(id)?.hostname ?? id.slice(0, 12)));
  const nodeUp = (id: string | null) => id !== null && nodes.get(id)?.state === 'ready';

  const services = plan.services.map((s): SwarmServiceStatus => {
    const name = swarmServiceName(plan.project, s.name);
    const job = s.restart === 'no';
    const service = input.services.find((x) => x.name === name);
    const base = { service: s.name, swarm_name: name, job, lost: [] as SwarmTaskLost[], nodes: [] as string[], node_ids: [] as string[] };
    if (!service) return { ...base, desired: 0, running: 0, health: 'missing', detail: 'not deployed', ok: false };
    const tasks = input.tasks.filter((t) => t.serviceId === service.id);
    const lost = tasks
      .filter((t) => (t.state === 'running' || t.state === 'starting') && t.nodeId !== null && !nodeUp(t.nodeId))
      .map((t) => ({ node: hostname(t.nodeId), node_id: t.nodeId!, task: t.id.slice(0, 12), since: t.timestamp }));
    const running = tasks.filter((t) => t.desiredState === 'running' && t.state === 'running' && nodeUp(t.nodeId));
    const newest = tasks.find((t) => t.desiredState === 'running' || (job && t.desiredState !== 'remove'));
    const nodesRunning = [...new Set(running.map((t) => hostname(t.nodeId)))].sort();
    const nodeIds = [...new Set(running.map((t) => t.nodeId!))].sort();
    if (job) {
      const done = tasks.some((t) => t.state === 'complete');
      const failed = !done && tasks.some((t) => t.state === 'failed' || t.state === 'rejected');
      return {
        ...base,
        lost,
        desired: service.replicas,
        running: running.length,
        nodes: nodesRunning,
        node_ids: nodeIds,
        health: done ? 'completed' : failed ? 'failed' : 'starting',
        detail: done ? null : taskDetail(newest),
        ok: done,
      };
    }
    const enough = running.length >= service.replicas && service.replicas > 0;
    const health: SwarmHealth = enough
      ? service.hasHealthcheck
        ? 'healthy'
        : 'running'
      : newest && ['new', 'pending', 'assigned', 'accepted', 'preparing', 'ready', 'starting'].includes(newest.state)
        ? 'starting'
        : newest && ['failed', 'rejected'].includes(newest.state)
          ? 'failed'
          : 'down';
    return {
      ...base,
      lost,
      desired: service.replicas,
      running: running.length,
      nodes: nodesRunning,
      node_ids: nodeIds,
      health,
      detail: enough ? null : taskDetail(newest),
      ok: enough,
    };
  });
  return {
    orchestrator: 'swarm',
    project: plan.project,
    profile: plan.profile,
    healthy: services.every((s) => s.ok),
    services,
    nodes: input.nodes.map((n) => ({ id: n.id, hostname: n.hostname, role: n.role, state: n.state, availability: n.availability, labels: n.labels })),
  };
}

function taskDetail(task: SwarmTask | undefined): string {
  if (!task) return 'no task scheduled';
  const why = [task.message, task.error].filter((x): x is string => Boolean(x) && x !== task.state).join(': ');
  return `${task.state}${why ? ` (${why})` : ''}`;
}
