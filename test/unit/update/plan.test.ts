import { describe, expect, it } from 'vitest';
import { composeWithPrevious, configHashes } from '../../../src/update/execute.js';
import { planUpdate, type RunningService } from '../../../src/update/plan.js';

const svc = (name: string, dependsOn: string[] = []) => ({
  name,
  image: `img/${name}:1`,
  health: { test: ['CMD', 'true'], intervalS: 1, timeoutS: 1, startPeriodS: 0, retries: 1 },
  dependsOn: dependsOn.map((service) => ({ service, condition: 'service_healthy' as const })),
});
// Only the fields the planner reads.
const stack = { services: [svc('db'), svc('redis'), svc('kratos', ['db']), svc('app', ['db', 'kratos', 'redis'])] } as never;

const running = (over: Partial<Record<string, Partial<RunningService>>> = {}): RunningService[] =>
  ['db', 'redis', 'kratos', 'app'].map((service) => ({ service, containerId: `c-${service}`, imageId: `sha256:${service}`, configHash: `h-${service}`, state: 'running', ...over[service] }));
const hashes = new Map(['db', 'redis', 'kratos', 'app'].map((s) => [s, `h-${s}`]));
const ids = new Map(['db', 'redis', 'kratos', 'app'].map((s) => [s, `sha256:${s}` as string | null]));

describe('update planner', () => {
  it('nothing changed: nothing to recreate', () => {
    const p = planUpdate({ stack, configHashes: hashes, running: running(), imageIds: ids, requested: [] });
    expect(p.changes).toEqual([]);
    expect(p.unchanged).toEqual(['app', 'db', 'kratos', 'redis']);
  });

  it('a new image and a changed config are found, and recreated in dependency order', () => {
    const p = planUpdate({
      stack,
      configHashes: new Map([...hashes, ['app', 'h-app-2']]),
      running: running(),
      imageIds: new Map([...ids, ['db', 'sha256:db-2']]),
      requested: [],
    });
    expect(p.changes.map((c) => [c.service, c.reasons])).toEqual([
      ['db', ['image']],
      ['app', ['config']],
    ]);
    expect(p.changes[0]).toMatchObject({ fromImageId: 'sha256:db', toImageId: 'sha256:db-2' });
    expect(p.layers).toEqual([['db'], ['app']]);
    expect(p.unchanged).toEqual(['kratos', 'redis']);
  });

  it('a missing container is planned; an image not on this machine is no image change; named services only', () => {
    const p = planUpdate({ stack, configHashes: hashes, running: running().filter((r) => r.service !== 'redis'), imageIds: new Map([...ids, ['kratos', null]]), requested: [] });
    expect(p.changes.map((c) => [c.service, c.reasons])).toEqual([['redis', ['missing']]]);
    const only = planUpdate({ stack, configHashes: new Map([...hashes, ['app', 'x'], ['db', 'y']]), running: running(), imageIds: ids, requested: ['app'] });
    expect(only.changes.map((c) => c.service)).toEqual(['app']);
  });
});

describe('rollback compose file', () => {
  const previous = 'services:\n  app:\n    image: img/app:1\n    labels:\n      org.sting-ce.msting.config-hash: old\n  db:\n    image: img/db:1\n';
  const current = '# Rendered by msting\nservices:\n  app:\n    image: img/app:2\n    labels:\n      org.sting-ce.msting.config-hash: new\n  db:\n    image: img/db:2\n';
  it('puts back one service and keeps the others new', () => {
    const merged = composeWithPrevious(current, previous, 'app')!;
    expect(merged.startsWith('# Rendered by msting')).toBe(true);
    expect(configHashes(merged).get('app')).toBe('old');
    expect(merged).toContain('image: img/app:1');
    expect(merged).toContain('image: img/db:2');
    expect(composeWithPrevious(current, previous, 'redis')).toBeUndefined();
  });
});
