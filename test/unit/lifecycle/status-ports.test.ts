import { describe, expect, it } from 'vitest';
import { checkPorts, findDuplicates, portClaims, type BindResult } from '../../../src/lifecycle/ports.js';
import { buildStatus, containersToInspect, parseStatusText } from '../../../src/lifecycle/status.js';
import { container, details, makeConfig, makePlan } from './helpers.js';

describe('status', () => {
  const config = makeConfig({ ports: { db: 15433 } });
  const plan = makePlan({ ports: { db: 15433 } });

  it('reads uptime and exit codes from the engine status text', () => {
    expect(parseStatusText('Up 5 minutes (healthy)')).toEqual({ uptime: '5 minutes', exitCode: null });
    expect(parseStatusText('Up About an hour')).toEqual({ uptime: 'About an hour', exitCode: null });
    expect(parseStatusText('Exited (137) 2 seconds ago')).toEqual({ uptime: null, exitCode: 137 });
  });

  it('every service of the profile appears, running or not; healthy only when all are', () => {
    const containers = plan.services
      .filter((s) => s.name !== 'frontend')
      .map((s) =>
        s.name === 'kratos-migrate'
          ? container(s.name, { state: 'exited', health: 'none', statusText: 'Exited (0) 1 minute ago' })
          : container(s.name, s.name === 'db' ? { ports: [{ hostIp: '127.0.0.1', hostPort: 15433, containerPort: 5432, protocol: 'tcp' }] } : {}),
      );
    const report = buildStatus({ plan, config, containers });
    expect(report.services.map((s) => s.service)).toEqual(plan.services.map((s) => s.name).sort());
    expect(report.services.find((s) => s.service === 'frontend')).toMatchObject({ state: 'missing', ok: false, container: null });
    expect(report.services.find((s) => s.service === 'kratos-migrate')).toMatchObject({ job: true, ok: true, exit_code: 0 });
    expect(report.services.find((s) => s.service === 'db')?.ports).toEqual([{ key: 'db', host_ip: '127.0.0.1', host_port: 15433, container_port: 5432, protocol: 'tcp' }]);
    expect(report.healthy).toBe(false);
    // Mailpit's UI is not published here: its URL is the frontend's /mailpit/ route.
    expect(report.urls).toEqual({ frontend: 'https://localhost:3010', api: 'https://localhost:3010/api', mailpit: 'https://localhost:3010/mailpit/', grafana: null });
  });

  it('a failed job, an unhealthy service and a stopped one are not ok; only they are inspected', () => {
    const containers = [
      container('kratos-migrate', { state: 'exited', health: 'none', statusText: 'Exited (1) 1 minute ago' }),
      container('redis', { health: 'unhealthy', statusText: 'Up 1 minute (unhealthy)' }),
      container('db', { state: 'exited', health: 'none', statusText: 'Exited (0) 3 seconds ago' }),
      container('vault'),
    ];
    const first = buildStatus({ plan, config, containers });
    const ids = containersToInspect(first, containers, false);
    expect(ids.sort()).toEqual([containers[0]!.id, containers[1]!.id, containers[2]!.id].sort());
    expect(containersToInspect(first, containers, true)).toHaveLength(4);
    const report = buildStatus({ plan, config, containers, details: new Map([[containers[1]!.id, details({ restartCount: 4 })]]) });
    const by = Object.fromEntries(report.services.map((s) => [s.service, s]));
    expect(by['kratos-migrate']).toMatchObject({ ok: false, exit_code: 1 });
    expect(by.redis).toMatchObject({ ok: false, health: 'unhealthy', restarts: 4 });
    expect(by.db).toMatchObject({ ok: false, state: 'exited', uptime: null });
    expect(by.vault).toMatchObject({ ok: true, restarts: null, uptime: '5 minutes' });
  });

  it('a container of another profile is listed but does not decide health', () => {
    const containers = plan.services.map((s) =>
      s.name === 'kratos-migrate' ? container(s.name, { state: 'exited', health: 'none', statusText: 'Exited (0) 1 minute ago' }) : container(s.name),
    );
    const report = buildStatus({ plan, config, containers: [...containers, container('grafana', { state: 'exited', statusText: 'Exited (1) 1 minute ago' })] });
    expect(report.services.find((s) => s.service === 'grafana')).toMatchObject({ in_profile: false, ok: false });
    expect(report.healthy).toBe(true);
  });
});

describe('check-ports', () => {
  it('two keys on one host port are a conflict naming both keys', () => {
    const plan = makePlan({ ports: { app: 6000, messaging: 6000 } });
    const dups = findDuplicates(portClaims(plan));
    expect(dups).toEqual([expect.objectContaining({ reason: 'duplicate', port: 6000, keys: ['ports.app', 'ports.messaging'] })]);
  });

  it('the same port on different addresses of the host is no conflict; 0.0.0.0 overlaps every address', () => {
    expect(findDuplicates([{ service: 'a', key: 'ports.a', hostIp: '127.0.0.1', port: 1 }, { service: 'b', key: 'ports.b', hostIp: '10.0.0.1', port: 1 }])).toEqual([]);
    expect(findDuplicates([{ service: 'a', key: 'ports.a', hostIp: '0.0.0.0', port: 1 }, { service: 'b', key: 'ports.b', hostIp: '10.0.0.1', port: 1 }])).toHaveLength(1);
  });

  it('a port in use is a conflict unless this project\'s own container holds it', async () => {
    const plan = makePlan({ ports: { db: 5433, vault: 8200, messaging: 6379 } });
    const bind = async (_ip: string, port: number): Promise<BindResult> => (port === 5433 || port === 6379 ? 'in-use' : port === 8200 ? 'address-unavailable' : 'free');
    const own = [container('messaging', { ports: [{ hostIp: '127.0.0.1', hostPort: 6379, containerPort: 8889, protocol: 'tcp' }] })];
    const other = [container('postgres', { name: 'other-db-1', labels: { 'com.docker.compose.project': 'other' }, ports: [{ hostIp: '0.0.0.0', hostPort: 5433, containerPort: 5432, protocol: 'tcp' }] })];
    const report = await checkPorts({ plan, ownContainers: own, otherContainers: other, bindLocally: true, bind });
    expect(report.ok).toBe(false);
    expect(report.conflicts.map((c) => [c.reason, c.keys[0]])).toEqual([
      ['in-use', 'ports.db'],
      ['address-unavailable', 'ports.vault'],
    ]);
    expect(report.conflicts[0]!.held_by).toBe('container other-db-1 (compose project other)');
    expect(report.conflicts[0]!.message).toContain('msting config set ports.db <port>');
  });

  it('nothing is bound when the engine is on another host', async () => {
    const plan = makePlan({ ports: { db: 5433, vault: 8200, app: 5050, kratos: 4433, messaging: 8889 } });
    const report = await checkPorts({ plan, ownContainers: [], otherContainers: [], bindLocally: false, bind: async () => 'in-use' });
    expect(report.ok).toBe(true);
    expect(report.checked.length).toBe(6);
  });
});
