import { describe, expect, it } from 'vitest';
import type { ProjectContainer, ProjectVolume } from '../../../src/docker/backup-engine.js';
import { archiveName, parseArchiveName, planBackup, planPrune } from '../../../src/backup/plan.js';

const volume = (key: string): ProjectVolume => ({ name: `p_${key}`, key, labels: {}, driver: 'local', options: {} });
const container = (service: string, mounts: string[], state = 'running', readOnly = false): ProjectContainer => ({
  id: `${service}-id`,
  name: `p-${service}-1`,
  service,
  state,
  image: 'img',
  imageId: 'sha256:img',
  env: {},
  mounts: mounts.map((m) => ({ type: 'volume', name: `p_${m}`, destination: `/${m}`, readOnly })),
});

describe('planBackup', () => {
  const volumes = ['postgres_data', 'vault_data', 'redis_data', 'sting_logs', 'grafana_data'].map(volume);
  const containers = [
    container('db', ['postgres_data']),
    container('vault', ['vault_data']),
    container('redis', ['redis_data']),
    container('app', ['sting_logs']),
    container('grafana', ['grafana_data'], 'exited'),
  ];

  it('dumps the database instead of copying its volume, pauses writers, saves Redis, copies logs live', () => {
    const plan = planBackup('p', containers, volumes);
    if ('problem' in plan) throw new Error(plan.problem);
    expect(plan.skipped).toEqual([{ name: 'p_postgres_data', reason: expect.stringMatching(/pg_dump/) }]);
    const byKey = Object.fromEntries(plan.volumes.map((v) => [v.volume.key, v]));
    expect(byKey.vault_data).toMatchObject({ quiesce: 'paused', services: ['vault'] });
    expect(byKey.vault_data!.pause.map((c) => c.service)).toEqual(['vault']);
    expect(byKey.redis_data).toMatchObject({ quiesce: 'saved' });
    expect(byKey.redis_data!.save?.service).toBe('redis');
    expect(byKey.sting_logs).toMatchObject({ quiesce: 'live', pause: [] });
    // A stopped service needs no pause.
    expect(byKey.grafana_data).toMatchObject({ quiesce: 'live', pause: [] });
    expect(plan.expectedDatabases).toEqual(['kratos', 'sting_app', 'sting_messaging']);
  });

  it('refuses when the database is not running, saying so', () => {
    const stopped = planBackup('p', [container('db', ['postgres_data'], 'exited')], volumes);
    expect(stopped).toEqual({ problem: 'the database container p-db-1 is exited, so the databases cannot be dumped' });
    expect(planBackup('p', [], volumes)).toEqual({ problem: 'the compose project "p" has no database container' });
  });
});

describe('archive names and pruning', () => {
  it('round-trips the name', () => {
    const when = new Date('2025-03-01T02:03:04.567Z');
    const name = archiveName('sting-ce', when, true);
    expect(name).toBe('msting-backup-sting-ce-20250301T020304.567Z.tar.enc');
    expect(parseArchiveName(name)).toEqual({ project: 'sting-ce', created: when, encrypted: true });
    expect(parseArchiveName('notes.tar')).toBeUndefined();
  });

  it('keeps the newest N of one project and never touches other files', () => {
    const names = [
      archiveName('sting-ce', new Date('2025-01-01T00:00:00Z'), false),
      archiveName('sting-ce', new Date('2025-01-03T00:00:00Z'), true),
      archiveName('sting-ce', new Date('2025-01-02T00:00:00Z'), false),
      archiveName('other', new Date('2024-01-01T00:00:00Z'), false),
      'backup-state.json',
    ];
    expect(planPrune(names, 'sting-ce', 2)).toEqual([names[0]]);
    expect(planPrune(names, 'sting-ce', 5)).toEqual([]);
  });
});
