import { execa } from 'execa';
import { engineGet } from '../docker/engine-http.js';
import type { DockerEngine } from '../docker/engine.js';
import { COMPOSE_LABELS } from '../docker/engine.js';
import { translateEngineError } from '../docker/errors.js';
import { MstingError } from '../errors.js';
import { CONFIG_HASH_LABEL } from '../render/compose.js';
import type { RunningService } from './plan.js';

/**
 * The few engine facts `update` needs beyond the lifecycle adapter: the image id a container
 * runs and the one a reference points at now, and putting a reference back on an older image.
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

/** Point `reference` at the image `id` again (rollback of a pulled tag). */
export async function retagImage(id: string, reference: string, env: NodeJS.ProcessEnv): Promise<void> {
  const r = await execa('docker', ['tag', id, reference], { env, extendEnv: false, reject: false, stdin: 'ignore' });
  if (r.failed) throw new MstingError('EXTERNAL', `docker tag ${id.slice(0, 19)} ${reference} failed: ${String(r.stderr).trim()}`);
}

/** `docker compose pull --ignore-pull-failures` for these services; returns what compose said could not be pulled. */
export async function pullNewer(args: string[], services: string[], env: NodeJS.ProcessEnv, cwd: string, signal: AbortSignal, onLine?: (line: string) => void): Promise<string[]> {
  if (services.length === 0) return [];
  const child = execa('docker', [...args, 'pull', '--ignore-pull-failures', ...services], { env, extendEnv: false, reject: false, stdin: 'ignore', all: true, cwd, cancelSignal: signal });
  const result = await child;
  if (result.isCanceled) throw new MstingError('INTERRUPTED', 'interrupted while pulling images', { hint: 'run `msting update` again; nothing was recreated yet' });
  const lines = String(result.all ?? '').split(/\r?\n/).filter((l) => l.trim());
  for (const l of lines) onLine?.(l);
  return lines.filter((l) => /error|denied|not found|failed|unable/i.test(l));
}
