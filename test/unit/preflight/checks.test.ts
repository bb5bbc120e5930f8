import { describe, expect, it } from 'vitest';
import { evaluatePreflight, type PreflightFacts } from '../../../src/preflight/checks.js';
import { parseResourceProbe } from '../../../src/preflight/gather.js';

const GiB = 2 ** 30;

function facts(over: Partial<PreflightFacts> = {}): PreflightFacts {
  return {
    profile: 'default',
    runsModels: false,
    force: false,
    engine: { ok: true, value: { version: '27.3.1' } },
    compose: { ok: true, value: { version: '2.29.7' } },
    host: { memoryBytes: 64 * GiB, cpus: 16 },
    dockerResources: { source: 'container', cpus: 16, memoryBytes: 62 * GiB, image: 'redis:7-alpine' },
    dockerResourcesNote: null,
    installDir: { ok: true, value: { path: '/opt/sting-ce', freeBytes: 500e9 } },
    dockerDisk: { path: '/var/lib/docker', freeBytes: 400e9 },
    ports: { ok: true, checked: [{ service: 'db', key: 'ports.db', host_ip: '127.0.0.1', port: 5433 }], conflicts: [] },
    ...over,
  };
}

describe('preflight report', () => {
  it('a good machine passes every check', () => {
    const r = evaluatePreflight(facts());
    expect(r.ok).toBe(true);
    expect(r.checks.map((c) => c.id)).toEqual(['docker-engine', 'compose', 'memory', 'docker-resources', 'install-dir', 'disk', 'ports']);
    expect(r.checks.every((c) => c.ok && c.severity === 'info')).toBe(true);
  });

  it('reports every failure at once, not the first one only', () => {
    const r = evaluatePreflight(
      facts({
        compose: { ok: false, message: 'Docker Compose v2 is not installed', hint: 'install the plugin' },
        installDir: { ok: false, message: 'cannot write /opt/sting-ce', hint: 'run with sudo' },
        ports: {
          ok: false,
          checked: [],
          conflicts: [{ reason: 'in-use', port: 5433, host_ip: '127.0.0.1', keys: ['ports.db'], services: ['db'], held_by: null, message: 'host port 5433 (ports.db, for db) is already in use' }],
        },
      }),
    );
    expect(r.ok).toBe(false);
    expect(r.checks.filter((c) => !c.ok).map((c) => [c.id, c.severity])).toEqual([
      ['compose', 'error'],
      ['install-dir', 'error'],
      ['ports', 'error'],
    ]);
    expect(r.checks.find((c) => c.id === 'ports')!.hint).toBe('msting config set ports.db <port>, then run msting install again');
  });

  it('memory below 16 GiB is a warning for the default profile; what Docker can use counts, not the host', () => {
    const r = evaluatePreflight(facts({ dockerResources: { source: 'container', cpus: 4, memoryBytes: 8 * GiB } }));
    expect(r.ok).toBe(true);
    const mem = r.checks.find((c) => c.id === 'memory')!;
    expect(mem).toMatchObject({ ok: false, severity: 'warning' });
    expect(mem.message).toMatch(/Docker can use 8\.0 GiB \(measured in a container\) of memory; profile default needs 16\.0 GiB/);
    expect(mem.hint).toMatch(/Docker Desktop/);
  });

  it('the full profile (models) needs 32 GiB and 50 GB: an error unless --force', () => {
    const tight = { runsModels: true, profile: 'full', dockerResources: { source: 'docker-info' as const, cpus: 8, memoryBytes: 24 * GiB }, dockerDisk: { path: '/var/lib/docker', freeBytes: 30e9 } };
    const r = evaluatePreflight(facts(tight));
    expect(r.ok).toBe(false);
    expect(r.checks.filter((c) => !c.ok).map((c) => [c.id, c.severity])).toEqual([
      ['memory', 'error'],
      ['disk', 'error'],
    ]);
    expect(r.checks.find((c) => c.id === 'memory')!.hint).toMatch(/--force/);
    const forced = evaluatePreflight(facts({ ...tight, force: true }));
    expect(forced.ok).toBe(true);
    expect(forced.checks.filter((c) => !c.ok).every((c) => c.severity === 'warning')).toBe(true);
  });

  it('an engine too old or not answering is an error with its hint', () => {
    expect(evaluatePreflight(facts({ engine: { ok: true, value: { version: '19.03.12' } } })).checks[0]).toMatchObject({ ok: false, severity: 'error', message: expect.stringMatching(/too old/) });
    const down = evaluatePreflight(facts({ engine: { ok: false, message: 'the Docker engine is not running', hint: 'start Docker' }, dockerResources: null, ports: null }));
    expect(down.checks[0]).toMatchObject({ id: 'docker-engine', ok: false, hint: 'start Docker' });
    expect(down.checks.some((c) => c.id === 'ports')).toBe(false);
  });
});

describe('in-container resource measurement', () => {
  it('reads nproc, MemTotal and the cgroup limits', () => {
    expect(parseResourceProbe('nproc=8\nmemtotal=16314400\nmemmax=max\ncpumax=max 100000\n')).toEqual({ cpus: 8, memoryBytes: 16314400 * 1024 });
    // Docker Desktop-like limits: a 4 GiB memory limit and 2 CPUs of quota.
    expect(parseResourceProbe(`nproc=8\nmemtotal=16314400\nmemmax=${4 * GiB}\ncpumax=200000 100000\n`)).toEqual({ cpus: 2, memoryBytes: 4 * GiB });
    expect(parseResourceProbe('garbage')).toEqual({ cpus: null, memoryBytes: null });
  });
});
