import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse as parseYaml } from 'yaml';
import type { ComposeCli, ComposeProject } from '../docker/compose-cli.js';
import type { DockerEngine } from '../docker/engine.js';
import { MstingError } from '../errors.js';
import { judge, unhealthyGraceMs } from '../lifecycle/start.js';
import { CONFIG_HASH_LABEL } from '../render/compose.js';
import type { RenderedFile } from '../render/render-stack.js';
import { writeFileAtomic } from '../files/atomic-write.js';
import { RENDER_PATHS, envFilePath, type StackPlan } from '../stack/plan.js';
import { toYaml } from '../render/yaml.js';
import type { UpdatePlan } from './plan.js';

/**
 * Recreate what an update plan names, layer by layer (`compose up --no-start --no-deps <svc>`,
 * then start and wait for health). A service that does not come up healthy is put back: its
 * previous compose definition and files, its previous image (the tag pointed back at the old
 * image id), recreated and waited for again. Its dependents are then left as they were.
 */

export type UpdateServiceState = 'recreating' | 'waiting' | 'updated' | 'failed' | 'rolling-back' | 'rolled-back' | 'rollback-failed' | 'not-updated';

export interface UpdateOutcome {
  service: string;
  state: 'updated' | 'rolled-back' | 'rollback-failed' | 'not-updated';
  detail?: string;
  containerId?: string;
}

/** The files an earlier render left, read before the new render replaces them. */
export interface PreviousRender {
  /** Install-relative path → content (only files that existed). */
  files: Map<string, string>;
}

export async function readPreviousRender(home: string, plan: Pick<StackPlan, 'services'>): Promise<PreviousRender> {
  const files = new Map<string, string>();
  const paths = new Set<string>([RENDER_PATHS.composeFile]);
  for (const s of plan.services) {
    paths.add(envFilePath(s.name));
    for (const f of s.configFiles) paths.add(f);
  }
  await Promise.all(
    [...paths].map(async (p) => {
      const content = await readFile(join(home, p), 'utf8').catch(() => undefined);
      if (content !== undefined) files.set(p, content);
    }),
  );
  return { files };
}

/** Config-hash labels of every service in a rendered compose file. */
export function configHashes(composeText: string): Map<string, string> {
  const doc = parseYaml(composeText) as { services?: Record<string, { labels?: Record<string, string> }> };
  return new Map(Object.entries(doc.services ?? {}).map(([name, s]) => [name, s.labels?.[CONFIG_HASH_LABEL] ?? '']));
}

/**
 * The current compose file with one service's definition taken from the previous one: how a
 * single service is put back while every other keeps its new definition.
 */
export function composeWithPrevious(currentText: string, previousText: string, service: string): string | undefined {
  const current = parseYaml(currentText) as { services?: Record<string, unknown> };
  const previous = parseYaml(previousText) as { services?: Record<string, unknown> };
  const old = previous.services?.[service];
  if (old === undefined || !current.services) return undefined;
  current.services[service] = old;
  const header = currentText.split('\n').filter((l) => l.startsWith('#')).join('\n');
  return `${header}\n${toYaml(current)}`;
}

export interface ExecuteUpdateDeps {
  engine: DockerEngine;
  compose: ComposeCli;
  project: ComposeProject;
  home: string;
  stack: Pick<StackPlan, 'services'>;
  previous: PreviousRender;
  /** Image ids the services ran before the update (for rollback). */
  previousImageIds: ReadonlyMap<string, string>;
  retag(id: string, reference: string): Promise<void>;
  signal: AbortSignal;
  timeoutS: number;
  onState?(service: string, state: UpdateServiceState, detail?: string): void;
  onLine?(line: string): void;
  pollMs?: number;
}

/** Recreate one service's container and wait until it reaches its target. */
async function recreate(deps: ExecuteUpdateDeps, service: string): Promise<{ ok: true; id: string } | { ok: false; detail: string; id?: string }> {
  await deps.compose.create(deps.project, [service], { signal: deps.signal, onLine: deps.onLine });
  const container = (await deps.engine.listContainers(deps.project.name)).find((c) => c.service === service);
  if (!container) return { ok: false, detail: 'compose created no container for it' };
  await deps.engine.startContainer(container.id);
  const target = deps.stack.services.find((s) => s.name === service)?.health === null ? 'completed' : 'healthy';
  const deadline = Date.now() + deps.timeoutS * 1000;
  let unhealthySince: number | undefined;
  for (;;) {
    if (deps.signal.aborted) throw new MstingError('INTERRUPTED', `interrupted while waiting for ${service}`, { hint: 'run `msting update` again, or `msting status` to see where things are' });
    const details = await deps.engine.inspectContainer(container.id);
    const verdict = judge(target, details);
    if (verdict.done) return { ok: true, id: container.id };
    if (verdict.failed && details.state === 'running' && details.health === 'unhealthy') {
      // As in start: a running container's check may pass again on a busy machine, so it is
      // rolled back only once unhealthy for the whole grace (docs/lifecycle.md), or at the deadline.
      unhealthySince ??= Date.now();
      if (Date.now() - unhealthySince >= unhealthyGraceMs(details.healthIntervalS ?? 30)) return { ok: false, detail: verdict.detail, id: container.id };
    } else if (verdict.failed) return { ok: false, detail: verdict.detail, id: container.id };
    else unhealthySince = undefined;
    if (Date.now() >= deadline) return { ok: false, detail: `not ${target} after ${deps.timeoutS} s`, id: container.id };
    // An interrupt only ends the wait early: the check above says which service it stopped.
    await sleep(deps.pollMs ?? 500, undefined, { signal: deps.signal }).catch(() => undefined);
  }
}

/** Put one service back as it ran before the update. */
async function rollBack(deps: ExecuteUpdateDeps, service: string, image: string): Promise<{ ok: boolean; detail: string }> {
  const files = new Map<string, RenderedFile>();
  const currentCompose = await readFile(join(deps.home, RENDER_PATHS.composeFile), 'utf8');
  const previousCompose = deps.previous.files.get(RENDER_PATHS.composeFile);
  const spec = deps.stack.services.find((s) => s.name === service);
  if (previousCompose) {
    const merged = composeWithPrevious(currentCompose, previousCompose, service);
    if (merged) files.set(RENDER_PATHS.composeFile, { content: merged, mode: 0o644, secret: false });
  }
  for (const path of [envFilePath(service), ...(spec?.configFiles ?? [])]) {
    const old = deps.previous.files.get(path);
    if (old !== undefined) files.set(path, { content: old, mode: path.startsWith('env/') ? 0o600 : 0o644, secret: path.startsWith('env/') });
  }
  // Only these files, each atomically; the render manifest stays as the full render wrote it.
  for (const [path, file] of files) await writeFileAtomic(join(deps.home, path), file.content, { mode: file.mode, dirMode: path.startsWith('env/') ? 0o700 : 0o755 });
  const oldId = deps.previousImageIds.get(service);
  if (oldId) await deps.retag(oldId, previousImageRef(previousCompose, service) ?? image);
  const again = await recreate(deps, service);
  return again.ok ? { ok: true, detail: 'previous image and config restored, healthy again' } : { ok: false, detail: `the previous version did not come up either: ${again.detail}` };
}

function previousImageRef(previousCompose: string | undefined, service: string): string | undefined {
  if (!previousCompose) return undefined;
  const doc = parseYaml(previousCompose) as { services?: Record<string, { image?: string }> };
  return doc.services?.[service]?.image;
}

export async function executeUpdate(plan: UpdatePlan, deps: ExecuteUpdateDeps): Promise<UpdateOutcome[]> {
  const outcomes: UpdateOutcome[] = [];
  const changes = new Map(plan.changes.map((c) => [c.service, c]));
  let stopped = false;
  for (const layer of plan.layers) {
    if (stopped) {
      for (const s of layer) {
        outcomes.push({ service: s, state: 'not-updated', detail: 'an earlier service failed and was rolled back' });
        deps.onState?.(s, 'not-updated');
      }
      continue;
    }
    for (const service of layer) {
      deps.onState?.(service, 'recreating');
      const r = await recreate(deps, service);
      if (r.ok) {
        outcomes.push({ service, state: 'updated', containerId: r.id });
        deps.onState?.(service, 'updated');
        continue;
      }
      deps.onState?.(service, 'failed', r.detail);
      stopped = true;
      const change = changes.get(service)!;
      if (change.reasons.includes('missing')) {
        outcomes.push({ service, state: 'rollback-failed', detail: `${r.detail}; it had no earlier container to go back to` });
        continue;
      }
      deps.onState?.(service, 'rolling-back');
      const back = await rollBack(deps, service, change.image);
      outcomes.push({ service, state: back.ok ? 'rolled-back' : 'rollback-failed', detail: `${r.detail}; ${back.detail}` });
      deps.onState?.(service, back.ok ? 'rolled-back' : 'rollback-failed', back.detail);
    }
  }
  return outcomes;
}
