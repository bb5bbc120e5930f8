import type { ComposeCli, ComposeProject } from '../docker/compose-cli.js';
import type { ContainerDetails, ContainerInfo, DockerEngine } from '../docker/engine.js';
import { MstingError } from '../errors.js';
import type { DependencyCondition, StackPlan } from '../stack/plan.js';
import { checkServiceNames, layersOf, stackGraph, withDependencies } from './graph.js';
import { checkLine } from './status.js';

/**
 * `start`: plan which services to bring up (pure), then bring them up in dependency order and
 * wait for each to reach its target: healthy (a service with a health check), running (one
 * without), completed (a one-shot job such as kratos-migrate). Containers are created with
 * `docker compose up --no-start` and started through the engine; their state is watched on the
 * engine's event stream, not with `compose up --wait` (which misreports services that exit and
 * one-shot jobs).
 */

export type ServiceTarget = 'healthy' | 'running' | 'completed';

/** Every state a service passes through; the last four are final. */
export type StartState =
  | 'waiting'
  | 'pulling'
  | 'creating'
  | 'starting'
  | 'healthy'
  | 'running'
  | 'completed'
  | 'failed'
  | 'skipped';

export const FINAL_OK: ReadonlySet<StartState> = new Set(['healthy', 'running', 'completed']);

export interface StartItem {
  service: string;
  image: string;
  target: ServiceTarget;
  dependsOn: { service: string; condition: DependencyCondition }[];
}

export interface StartPlan {
  project: string;
  profile: string;
  /** In start order (dependency layers, sorted within a layer). */
  items: StartItem[];
  layers: string[][];
}

/**
 * Decide what `start [SERVICE...]` brings up: the named services (default: the whole profile)
 * and everything they need. Throws a usage error for a service not in the profile.
 */
export function planStart(stack: StackPlan, requested: readonly string[]): StartPlan {
  const graph = stackGraph(stack);
  checkServiceNames(graph, requested, stack.profile);
  const wanted = requested.length > 0 ? withDependencies(graph, requested) : new Set(stack.services.map((s) => s.name));
  const layers = layersOf(graph, wanted);
  const byName = new Map(stack.services.map((s) => [s.name, s]));
  const items = layers.flat().map((name): StartItem => {
    const s = byName.get(name)!;
    return {
      service: name,
      image: s.image,
      target: s.health === null ? 'completed' : 'healthy',
      dependsOn: s.dependsOn.filter((d) => wanted.has(d.service)),
    };
  });
  return { project: stack.project, profile: stack.profile, items, layers };
}

/**
 * One failed health check on a busy machine (a probe past its timeout) makes a container
 * unhealthy, and the next passing probe makes it healthy again. So a running container counts as
 * failed only once it has stayed unhealthy for a few check intervals: three, and at least 30 s.
 */
export function unhealthyGraceMs(intervalS: number): number {
  return Math.max(3 * intervalS, 30) * 1000;
}

/**
 * A container its restart policy is restarting (it exited, or was restarted from outside) comes
 * back by itself: it counts as failed once it has been restarted this many times, or has stayed
 * down for the grace above, not at the first sight of `restarting`.
 */
export const RESTARTS_TOLERATED = 3;

/** Failing now, but may still recover by itself: unhealthy while running, or restarting a few times. */
function mayRecover(d: Pick<ContainerDetails, 'state' | 'health' | 'restartCount'>): boolean {
  return (d.state === 'running' && d.health === 'unhealthy') || (d.state === 'restarting' && d.restartCount < RESTARTS_TOLERATED);
}

export interface ServiceOutcome {
  service: string;
  state: StartState;
  /** Why it failed or was skipped, or what it is ("unchanged"). */
  detail?: string;
  /** Milliseconds from the start of the run to the final state. */
  elapsedMs: number;
  /** Whether this run started (or recreated) its container. */
  acted: boolean;
}

export interface StartResult {
  outcomes: ServiceOutcome[];
  failed: string[];
  /** False when every service was already at its target and nothing was created or started. */
  changed: boolean;
}

/**
 * Where the Vault integration plugs in. `afterService` runs when a service reached its target
 * and before anything that depends on it starts (unsealing Vault, then rendering the env files
 * with the secrets it holds). When it reports changed files, the services not started yet are
 * created again so they pick the new files up.
 */
export interface StartHooks {
  beforeServices?(services: readonly string[]): Promise<void>;
  afterService?(service: string): Promise<{ changedFiles?: string[] } | void>;
}

export interface StartDeps {
  engine: DockerEngine;
  compose: ComposeCli;
  project: ComposeProject;
}

export interface StartOptions {
  timeoutS: number;
  signal: AbortSignal;
  onState(service: string, state: StartState, detail?: string): void;
  /** Compose's own progress lines (pulls), for --verbose. */
  onComposeLine?(line: string): void;
  hooks?: StartHooks;
  /** Poll interval behind the event stream, in case an event is lost. */
  pollMs?: number;
}

/** What a container's state means for a service with this target. */
export function judge(target: ServiceTarget, c: Pick<ContainerDetails, 'state' | 'health' | 'hasHealthcheck' | 'exitCode' | 'oomKilled' | 'lastHealthOutput' | 'restartCount'>):
  | { done: true; state: 'healthy' | 'running' | 'completed' }
  | { done: false; failed: true; detail: string }
  | { done: false; failed: false } {
  if (target === 'completed') {
    if (c.state === 'exited' || c.state === 'dead') {
      return c.exitCode === 0 ? { done: true, state: 'completed' } : { done: false, failed: true, detail: `exited with code ${c.exitCode}` };
    }
    return { done: false, failed: false };
  }
  if (c.state === 'exited' || c.state === 'dead') {
    return { done: false, failed: true, detail: c.oomKilled ? 'killed: out of memory' : `exited with code ${c.exitCode}` };
  }
  if (c.state === 'restarting') return { done: false, failed: true, detail: `keeps restarting (${c.restartCount} restarts, last exit code ${c.exitCode})` };
  if (c.state !== 'running') return { done: false, failed: false };
  if (!c.hasHealthcheck) return { done: true, state: 'running' };
  if (c.health === 'healthy') return { done: true, state: 'healthy' };
  if (c.health === 'unhealthy') {
    return { done: false, failed: true, detail: `health check failing${c.lastHealthOutput ? `: ${checkLine(c.lastHealthOutput)}` : ''}` };
  }
  return { done: false, failed: false };
}

function satisfies(condition: DependencyCondition, state: StartState | undefined): boolean {
  if (state === undefined) return false;
  if (condition === 'service_completed_successfully') return state === 'completed';
  if (condition === 'service_started') return FINAL_OK.has(state);
  return state === 'healthy' || state === 'running';
}

function interrupted(): MstingError {
  return new MstingError('INTERRUPTED', 'interrupted; containers started so far keep running', { hint: 'run `msting start` again to continue, or `msting stop`' });
}

/** Bring a start plan up. Never throws for a service that fails: its outcome says so. */
export async function executeStart(plan: StartPlan, deps: StartDeps, options: StartOptions): Promise<StartResult> {
  const t0 = Date.now();
  const { engine, compose, project } = deps;
  const services = plan.items.map((i) => i.service);
  const items = new Map(plan.items.map((i) => [i.service, i]));
  const state = new Map<string, StartState>();
  const outcomes = new Map<string, ServiceOutcome>();
  const acted = new Set<string>();
  const set = (service: string, next: StartState, detail?: string): void => {
    if (state.get(service) === next && !FINAL_OK.has(next) && next !== 'failed' && next !== 'skipped') return;
    state.set(service, next);
    options.onState(service, next, detail);
    if (FINAL_OK.has(next) || next === 'failed' || next === 'skipped') {
      outcomes.set(service, { service, state: next, elapsedMs: Date.now() - t0, acted: acted.has(service), ...(detail ? { detail } : {}) });
    }
  };
  const check = (): void => {
    if (options.signal.aborted) throw interrupted();
  };

  for (const s of services) set(s, 'waiting');
  const before = byService(await engine.listContainers(project.name));

  // Images: pull only what is missing, and say which.
  const missing: string[] = [];
  await Promise.all(
    plan.items.map(async (item) => {
      if (!(await engine.imagePresent(item.image))) missing.push(item.service);
    }),
  );
  check();
  if (missing.length > 0) {
    missing.sort();
    for (const s of missing) set(s, 'pulling');
    await compose.pull(project, missing, { signal: options.signal, onLine: options.onComposeLine });
  }

  // Create (or recreate what changed); unchanged containers, running or not, are kept.
  for (const s of services) if (!isUpAsPlanned(before.get(s), items.get(s)!)) set(s, 'creating');
  await compose.create(project, services, { signal: options.signal, onLine: options.onComposeLine });
  check();
  let containers = byService(await engine.listContainers(project.name));
  const recreated = (s: string) => before.get(s)?.id !== containers.get(s)?.id;

  const events = new AbortController();
  const stopEvents = () => events.abort();
  options.signal.addEventListener('abort', stopEvents, { once: true });
  const stream = await engine.events(project.name, events.signal);
  const wake = new Wakeup();
  const pump = (async () => {
    try {
      for await (const event of stream) {
        if (event.action === 'start' || event.action === 'die' || event.action === 'health_status' || event.action === 'oom') wake.ring();
      }
    } catch {
      // The poll below keeps watching; a broken event stream only makes it slower.
    }
  })();

  try {
    await options.hooks?.beforeServices?.(services);
    const deadline = t0 + options.timeoutS * 1000;
    const started = new Set<string>();
    const pending = new Set(services);
    // When each service's running container was first seen unhealthy, in its current streak.
    const unhealthySince = new Map<string, number>();

    while (pending.size > 0) {
      check();
      const finalBefore = outcomes.size;
      // Start every service whose dependencies are satisfied, all at once.
      const ready: string[] = [];
      for (const s of [...pending]) {
        if (started.has(s)) continue;
        const item = items.get(s)!;
        const blocked = item.dependsOn.find((d) => {
          const st = state.get(d.service);
          return st === 'failed' || st === 'skipped';
        });
        if (blocked) {
          set(s, 'skipped', `needs ${blocked.service}, which ${state.get(blocked.service) === 'failed' ? 'failed' : 'did not start'}`);
          pending.delete(s);
          continue;
        }
        if (!item.dependsOn.every((d) => satisfies(d.condition, state.get(d.service)))) continue;
        if (!containers.get(s)) {
          set(s, 'failed', 'compose created no container for it');
          pending.delete(s);
          continue;
        }
        started.add(s);
        ready.push(s);
      }
      const reached: string[] = [];
      await Promise.all(
        ready.map(async (s) => {
          const container = containers.get(s)!;
          const verdict = judge(items.get(s)!.target, await engine.inspectContainer(container.id));
          // Already where it should be, and not recreated by this run: leave it alone. A
          // one-shot job that completed before is not run again unless its container changed.
          if (verdict.done && !recreated(s)) {
            set(s, verdict.state, 'unchanged');
            pending.delete(s);
            reached.push(s);
            return;
          }
          acted.add(s);
          set(s, 'starting');
          await engine.startContainer(container.id);
        }),
      );
      for (const s of reached.sort()) await afterReached(s);

      // Judge every started, unfinished service.
      const watching = [...pending].filter((s) => started.has(s) && acted.has(s));
      const verdicts = await Promise.all(
        watching.map(async (s) => {
          const d = await engine.inspectContainer(containers.get(s)!.id);
          return [s, d, judge(items.get(s)!.target, d)] as const;
        }),
      );
      for (const [s, d, verdict] of verdicts) {
        if (verdict.done) {
          unhealthySince.delete(s);
          set(s, verdict.state);
          pending.delete(s);
          await afterReached(s);
        } else if (verdict.failed && mayRecover(d)) {
          // Still running (or being restarted): its check may pass again. Failed once down for the
          // whole grace, or at the deadline (with what its check says, which explains more than a timeout).
          const since = unhealthySince.get(s) ?? Date.now();
          unhealthySince.set(s, since);
          if (Date.now() - since >= unhealthyGraceMs(d.healthIntervalS ?? 30) || Date.now() >= deadline) {
            set(s, 'failed', verdict.detail);
            pending.delete(s);
          }
        } else if (verdict.failed) {
          set(s, 'failed', verdict.detail);
          pending.delete(s);
        } else {
          unhealthySince.delete(s);
        }
      }
      if (pending.size === 0) break;
      // Something finished: its dependents may start now, without waiting for an event.
      if (outcomes.size > finalBefore) continue;
      const now = Date.now();
      if (now >= deadline) {
        for (const s of pending) {
          if (started.has(s)) set(s, 'failed', `timed out after ${options.timeoutS} s (${describeWait(items.get(s)!.target)})`);
          else set(s, 'skipped', `not started: timed out after ${options.timeoutS} s waiting for ${waitingFor(items.get(s)!, state).join(', ')}`);
        }
        break;
      }
      await wake.wait(Math.min(options.pollMs ?? 1000, deadline - now), options.signal);
    }
  } finally {
    options.signal.removeEventListener('abort', stopEvents);
    events.abort();
    await pump;
  }

  const ordered = services.map((s) => outcomes.get(s)!).filter(Boolean);
  return {
    outcomes: ordered,
    failed: ordered.filter((o) => o.state === 'failed' || o.state === 'skipped').map((o) => o.service),
    changed: acted.size > 0 || services.some(recreated),
  };

  async function afterReached(service: string): Promise<void> {
    const result = await options.hooks?.afterService?.(service);
    if (result && result.changedFiles && result.changedFiles.length > 0) {
      const notStarted = services.filter((s) => !FINAL_OK.has(state.get(s) ?? 'waiting') && state.get(s) !== 'starting');
      if (notStarted.length > 0) {
        await compose.create(project, notStarted, { signal: options.signal, onLine: options.onComposeLine });
        containers = byService(await engine.listContainers(project.name));
      }
    }
  }
}

function describeWait(target: ServiceTarget): string {
  if (target === 'completed') return 'the job did not finish';
  if (target === 'healthy') return 'never became healthy';
  return 'never ran';
}

function waitingFor(item: StartItem, state: ReadonlyMap<string, StartState>): string[] {
  return item.dependsOn.filter((d) => !satisfies(d.condition, state.get(d.service))).map((d) => d.service);
}

/** A container that already runs as planned (for the "creating" message only; compose decides). */
function isUpAsPlanned(container: ContainerInfo | undefined, item: StartItem): boolean {
  if (!container) return false;
  if (item.target === 'completed') return container.state === 'exited';
  return container.state === 'running';
}

export function byService(containers: readonly ContainerInfo[]): Map<string, ContainerInfo> {
  const map = new Map<string, ContainerInfo>();
  for (const c of containers) if (c.service && !map.has(c.service)) map.set(c.service, c);
  return map;
}

/** Resolves on the next event, after `ms`, or when `signal` aborts, whichever comes first. */
class Wakeup {
  private waiter: (() => void) | undefined;
  private rung = false;
  ring(): void {
    this.rung = true;
    this.waiter?.();
  }
  wait(ms: number, signal: AbortSignal): Promise<void> {
    if (this.rung) {
      this.rung = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.waiter = undefined;
        this.rung = false;
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      signal.addEventListener('abort', done, { once: true });
      this.waiter = done;
    });
  }
}
