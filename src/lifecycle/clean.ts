import type { DockerEngine, ProjectResource } from '../docker/engine.js';

/**
 * `clean [--volumes]`: remove the project's containers and networks; its volumes only when
 * asked. Everything is found by the compose project label, so only this project is touched
 * and nothing is missed even when the compose files are gone.
 */

export interface CleanPlan {
  project: string;
  containers: ProjectResource[];
  networks: ProjectResource[];
  /** Empty unless volumes were asked for. */
  volumes: ProjectResource[];
  /** Volumes kept (listed so the user knows what stays). */
  keptVolumes: ProjectResource[];
}

export async function planClean(engine: DockerEngine, project: string, withVolumes: boolean): Promise<CleanPlan> {
  const [containers, networks, volumes] = await Promise.all([engine.listContainers(project), engine.listNetworks(project), engine.listVolumes(project)]);
  return {
    project,
    containers: containers.map((c) => ({ id: c.id, name: c.name })),
    networks,
    volumes: withVolumes ? volumes : [],
    keptVolumes: withVolumes ? [] : volumes,
  };
}

export function isEmptyPlan(plan: CleanPlan): boolean {
  return plan.containers.length === 0 && plan.networks.length === 0 && plan.volumes.length === 0;
}

export interface CleanReport {
  containers: string[];
  networks: string[];
  volumes: string[];
}

/** Containers first (they hold the networks and volumes), then networks, then volumes. */
export async function executeClean(
  plan: CleanPlan,
  engine: DockerEngine,
  options: { stopTimeoutS: number; onRemoved?: (kind: 'container' | 'network' | 'volume', name: string) => void },
): Promise<CleanReport> {
  const onRemoved = options.onRemoved;
  const report: CleanReport = { containers: [], networks: [], volumes: [] };
  await Promise.all(
    plan.containers.map(async (c) => {
      // Stopped gracefully first, like `docker compose down`: a database gets to shut down cleanly.
      await engine.stopContainer(c.id, options.stopTimeoutS);
      await engine.removeContainer(c.id);
      report.containers.push(c.name);
      onRemoved?.('container', c.name);
    }),
  );
  for (const n of plan.networks) {
    await engine.removeNetwork(n.id);
    report.networks.push(n.name);
    onRemoved?.('network', n.name);
  }
  for (const v of plan.volumes) {
    await engine.removeVolume(v.name);
    report.volumes.push(v.name);
    onRemoved?.('volume', v.name);
  }
  report.containers.sort();
  return report;
}
