import type { DockerEngine } from '../docker/engine.js';
import { CONFIG_HASH_LABEL } from '../render/compose.js';
import type { RunningService } from './plan.js';

/**
 * The engine facts `update` needs, from the lifecycle adapter: the image id each service's
 * container runs and the one a reference points at now. Putting a reference back on an older
 * image is `tagImage` (docker/cli.ts); pulling what is newer, `pullAvailable` (docker/compose-cli.ts).
 */

/** One container per service of the project (the newest, when a service has several), one-off containers left out. */
export async function runningServices(engine: DockerEngine, project: string): Promise<RunningService[]> {
  const newest = new Map<string, Awaited<ReturnType<DockerEngine['listContainers']>>[number]>();
  for (const c of await engine.listContainers(project)) {
    if (!c.service) continue;
    const seen = newest.get(c.service);
    if (seen === undefined || c.created > seen.created) newest.set(c.service, c);
  }
  return [...newest.values()].map((c) => ({ service: c.service, containerId: c.id, imageId: c.imageId ?? '', configHash: c.labels[CONFIG_HASH_LABEL] ?? '', state: c.state }));
}

/** The id of the image a reference names on this machine, or null when it is not here. */
export function imageId(engine: DockerEngine, reference: string): Promise<string | null> {
  return engine.imageId(reference);
}
