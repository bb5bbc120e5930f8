import type { ContainerInfo, DockerEngine } from '../docker/engine.js';
import { CONFIG_HASH_LABEL } from '../render/compose.js';
import type { RunningService } from './plan.js';

/**
 * What `update` needs to know of the running stack, from the engine adapter: the image id each
 * service's container runs (the one a reference points at now is `DockerEngine.imageId`).
 * Putting a reference back on an older image is `tagImage` (docker/cli.ts); pulling what is
 * newer, `pullAvailable` (docker/compose-cli.ts).
 */

/** One container per service of the project (the newest, when a service has several), one-off containers left out. */
export async function runningServices(engine: DockerEngine, project: string): Promise<RunningService[]> {
  const newest = new Map<string, ContainerInfo>();
  for (const c of await engine.listContainers(project)) {
    if (!c.service) continue;
    const seen = newest.get(c.service);
    if (seen === undefined || c.created > seen.created) newest.set(c.service, c);
  }
  return [...newest.values()].map((c) => ({ service: c.service, containerId: c.id, imageId: c.imageId ?? '', configHash: c.labels[CONFIG_HASH_LABEL] ?? '', state: c.state }));
}
