import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ComposeCli } from '../../../src/docker/compose-cli.js';
import type { ContainerDetails, ContainerInfo, DockerEngine, EngineEvent } from '../../../src/docker/engine.js';
import { executeStart, planStart, type StartState } from '../../../src/lifecycle/start.js';
import { details, makePlan } from './helpers.js';

type Behaviour = 'healthy' | 'unhealthy' | 'exit0' | 'exit1' | 'never' | 'unhealthy-once' | 'restarted-once' | 'crash-loop';

/** An engine whose containers do what each service's behaviour says once started. */
function fakeEngine(behaviour: Record<string, Behaviour>, initial: Record<string, Partial<ContainerDetails>> = {}) {
  const state = new Map<string, ContainerDetails>();
  const calls: string[] = [];
  let created = false;
  const info = (service: string): ContainerInfo => ({
    id: `c-${service}`,
    name: `p-${service}-1`,
    service,
    image: 'img',
    state: state.get(service)!.state,
    health: state.get(service)!.health,
    statusText: '',
    created: 0,
    ports: [],
    labels: {},
  });
  for (const [service, d] of Object.entries(initial)) state.set(service, details({ id: `c-${service}`, service, ...d }));
  const engine: Partial<DockerEngine> = {
    async listContainers() {
      return [...state.keys()].map(info);
    },
    async imagePresent() {
      return true;
    },
    async inspectContainer(id) {
      const d = state.get(id.slice(2))!;
      const seen = { ...d };
      // One failed probe (a check past its timeout on a busy machine), then the next one passes.
      if (behaviour[d.service] === 'unhealthy-once' && d.health === 'unhealthy') Object.assign(d, { health: 'healthy', lastHealthOutput: null });
      // Restarted once (from outside, or one exit under load), then up and healthy.
      if (behaviour[d.service] === 'restarted-once' && d.state === 'restarting') Object.assign(d, { state: 'running', health: 'healthy', restartCount: 1 });
      // Exits again at once each time its restart policy starts it.
      if (behaviour[d.service] === 'crash-loop') Object.assign(d, { restartCount: d.restartCount + 1 });
      return seen;
    },
    async startContainer(id) {
      const service = id.slice(2);
      calls.push(`start ${service}`);
      const b = behaviour[service] ?? 'healthy';
      const d = state.get(service)!;
      if (b === 'healthy') Object.assign(d, { state: 'running', health: 'healthy' });
      if (b === 'unhealthy' || b === 'unhealthy-once') Object.assign(d, { state: 'running', health: 'unhealthy', lastHealthOutput: 'refused' });
      if (b === 'exit0') Object.assign(d, { state: 'exited', exitCode: 0, health: 'none', hasHealthcheck: false });
      if (b === 'exit1') Object.assign(d, { state: 'exited', exitCode: 1, health: 'none', hasHealthcheck: false });
      if (b === 'never') Object.assign(d, { state: 'running', health: 'starting' });
      if (b === 'restarted-once' || b === 'crash-loop') Object.assign(d, { state: 'restarting', health: 'none', exitCode: b === 'crash-loop' ? 1 : 0, restartCount: 0 });
    },
    async events(_project, signal) {
      // No events: the executor's poll drives it. The stream ends when the run is over.
      const quiet: AsyncIterable<EngineEvent> = {
        [Symbol.asyncIterator]: () => ({
          next: () => new Promise((resolve) => signal.addEventListener('abort', () => resolve({ done: true, value: undefined }), { once: true })),
        }),
      };
      return quiet;
    },
  };
  const compose: ComposeCli = {
    async version() {
      return '2.26.1';
    },
    async create(_p, services) {
      created = true;
      calls.push(`create ${services.length}`);
      for (const s of services) if (!state.has(s)) state.set(s, details({ id: `c-${s}`, service: s, state: 'created', health: 'none', hasHealthcheck: s !== 'kratos-migrate' }));
    },
    async pull() {},
  };
  return { engine: engine as DockerEngine, compose, calls, state, wasCreated: () => created };
}

const project = { name: 'p', files: ['compose/docker-compose.yml'], profile: 'default' };

async function run(behaviour: Record<string, Behaviour>, timeoutS = 5, initial: Record<string, Partial<ContainerDetails>> = {}, services: string[] = []) {
  const plan = planStart(makePlan(), services);
  const fake = fakeEngine(behaviour, initial);
  const seen: { service: string; state: StartState; detail?: string | undefined }[] = [];
  const after: string[] = [];
  const running = executeStart(plan, { engine: fake.engine, compose: fake.compose, project }, {
    timeoutS,
    signal: new AbortController().signal,
    pollMs: 5,
    onState: (service, state, detail) => seen.push({ service, state, detail }),
    hooks: {
      afterService: async (s) => {
        after.push(s);
        fake.calls.push(`after ${s}`);
      },
    },
  });
  // The clock is fake: waits of seconds (a deadline, a grace period) pass at once.
  let settled = false;
  void running.finally(() => (settled = true)).catch(() => undefined);
  while (!settled) await vi.advanceTimersByTimeAsync(100);
  const result = await running;
  return { result, seen, calls: fake.calls, after };
}

describe('executeStart', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('starts every service after its dependencies reached their condition', async () => {
    const { result, calls, after } = await run({ 'kratos-migrate': 'exit0' });
    expect(result.failed).toEqual([]);
    expect(result.changed).toBe(true);
    const started = calls.filter((c) => c.startsWith('start ')).map((c) => c.slice(6));
    expect(started.indexOf('db')).toBeLessThan(started.indexOf('kratos-migrate'));
    expect(started.indexOf('kratos-migrate')).toBeLessThan(started.indexOf('kratos'));
    expect(started.indexOf('app')).toBeLessThan(started.indexOf('frontend'));
    expect(result.outcomes.find((o) => o.service === 'kratos-migrate')?.state).toBe('completed');
    // The Vault seam runs for vault before anything that needs it starts.
    expect(after).toContain('vault');
    expect(calls.indexOf('after vault')).toBeLessThan(calls.indexOf('start app'));
  });

  it('a failing service fails, what needs it is skipped with the reason, the rest comes up', async () => {
    const { result } = await run({ 'kratos-migrate': 'exit0', redis: 'unhealthy' });
    const by = Object.fromEntries(result.outcomes.map((o) => [o.service, o]));
    expect(by.redis).toMatchObject({ state: 'failed', detail: 'health check failing: refused' });
    expect(by.messaging).toMatchObject({ state: 'skipped', detail: 'needs redis, which failed' });
    expect(by.frontend?.state).toBe('skipped');
    expect(by.kratos?.state).toBe('healthy');
    expect(result.failed.sort()).toEqual(['app', 'frontend', 'knowledge', 'messaging', 'redis']);
  });

  it('a container unhealthy once (one probe past its timeout) that passes its next check comes up healthy', async () => {
    const { result } = await run({ 'kratos-migrate': 'exit0', redis: 'unhealthy-once' });
    expect(result.failed).toEqual([]);
    expect(result.outcomes.find((o) => o.service === 'redis')?.state).toBe('healthy');
    expect(result.outcomes.find((o) => o.service === 'messaging')?.state).toBe('healthy');
  });

  it('a container that stays unhealthy fails after the grace period (3 check intervals), well before the deadline', async () => {
    const { result } = await run({ 'kratos-migrate': 'exit0', redis: 'unhealthy' }, 600);
    const redis = result.outcomes.find((o) => o.service === 'redis')!;
    expect(redis).toMatchObject({ state: 'failed', detail: 'health check failing: refused' });
    // The stack's checks run every 30 s: 90 s of grace, counted from the first unhealthy report.
    expect(redis.elapsedMs).toBeGreaterThanOrEqual(90_000);
    expect(redis.elapsedMs).toBeLessThan(100_000);
    expect(result.outcomes.find((o) => o.service === 'messaging')).toMatchObject({ state: 'skipped', detail: 'needs redis, which failed' });
  });

  it('a container its restart policy restarts once (exit 0, as a stop from outside leaves it) comes up healthy', async () => {
    const { result, seen } = await run({ 'kratos-migrate': 'exit0', redis: 'restarted-once' });
    expect(result.failed).toEqual([]);
    expect(result.outcomes.find((o) => o.service === 'redis')?.state).toBe('healthy');
    expect(seen.filter((e) => e.service === 'redis' && e.state === 'failed')).toEqual([]);
  });

  it('a container that keeps crashing fails after three restarts, not after the grace period', async () => {
    const { result } = await run({ 'kratos-migrate': 'exit0', redis: 'crash-loop' }, 600);
    const redis = result.outcomes.find((o) => o.service === 'redis')!;
    expect(redis).toMatchObject({ state: 'failed', detail: 'keeps restarting (3 restarts, last exit code 1)' });
    expect(redis.elapsedMs).toBeLessThan(10_000);
    expect(result.outcomes.find((o) => o.service === 'messaging')).toMatchObject({ state: 'skipped', detail: 'needs redis, which failed' });
  });

  it('a migration job that exits non-zero fails kratos behind it', async () => {
    const { result } = await run({ 'kratos-migrate': 'exit1' });
    const by = Object.fromEntries(result.outcomes.map((o) => [o.service, o]));
    expect(by['kratos-migrate']).toMatchObject({ state: 'failed', detail: 'exited with code 1' });
    expect(by.kratos).toMatchObject({ state: 'skipped', detail: 'needs kratos-migrate, which failed' });
  });

  it('a service that never becomes healthy times out; what waits for it is not started', async () => {
    const { result, calls } = await run({ 'kratos-migrate': 'exit0', db: 'never' }, 1, {}, ['kratos']);
    const by = Object.fromEntries(result.outcomes.map((o) => [o.service, o]));
    expect(by.db).toMatchObject({ state: 'failed', detail: 'timed out after 1 s (never became healthy)' });
    expect(by['kratos-migrate']?.state).toBe('skipped');
    expect(calls).not.toContain('start kratos');
  });

  it('a stack already up is left alone and reported unchanged', async () => {
    const plan = makePlan();
    const initial = Object.fromEntries(
      plan.services.map((s) => [s.name, s.name === 'kratos-migrate' ? { state: 'exited' as const, exitCode: 0, hasHealthcheck: false, health: 'none' as const } : {}]),
    );
    const { result, calls, seen } = await run({}, 5, initial);
    expect(result.changed).toBe(false);
    expect(calls.filter((c) => c.startsWith('start '))).toEqual([]);
    expect(seen.filter((s) => s.state === 'healthy' || s.state === 'completed').every((s) => s.detail === 'unchanged')).toBe(true);
  });
});
