import { engineGet } from '../docker/engine-http.js';
import type { DockerEngine } from '../docker/engine.js';
import { COMPOSE_LABELS } from '../docker/engine.js';
import { translateEngineError } from '../docker/errors.js';
import { CONFIG_HASH_LABEL } from '../render/compose.js';
import type { RunningService } from './plan.js';

/**
 * The few engine facts `update` needs beyond the lifecycle adapter: the image id a container
 * runs and the one a reference points at now. Putting a reference back on an older image is
 * `tagImage` (docker/cli.ts); pulling what is newer, `pullAvailable` (docker/compose-cli.ts).
 */

export async function runningServices(engine: DockerEngine, project: string): Promise<RunningService[]> {
  const filter = encodeURIComponent(JSON.stringify({ label: [`${COMPOSE_LABELS.project}=${project}`] }));
  let body: unknown;
  try {
    body = (await engineGet(engine.endpoint, `/containers/json?all=1&filters=${filter}`, { timeoutMs: 15_000 })).body;
  } catch (err) {
    throw translateEngineError(engine.endpoint, 'list containers', err);
  }
  const list = body as { Id: string; ImageID?: string; State?: string; Labels?: Record<string, string> }[];
  const out = new Map<string, RunningService>();
  for (const c of list) {
    const labels = c.Labels ?? {};
    const service = labels[COMPOSE_LABELS.service];
    if (!service || labels[COMPOSE_LABELS.oneoff] === 'True' || out.has(service)) continue;
    out.set(service, { service, containerId: c.Id, imageId: c.ImageID ?? '', configHash: labels[CONFIG_HASH_LABEL] ?? '', state: c.State ?? '' });
  }
  return [...out.values()];
}

/** The id of the image a reference names on this machine, or null when it is not here. */
export async function imageId(engine: DockerEngine, reference: string): Promise<string | null> {
  try {
    const { body } = await engineGet(engine.endpoint, `/images/${reference.split('/').map(encodeURIComponent).join('/')}/json`, { timeoutMs: 15_000 });
    return (body as { Id?: string }).Id ?? null;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return null;
    throw translateEngineError(engine.endpoint, 'inspect image', err);
  }
}
