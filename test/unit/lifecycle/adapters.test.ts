import { describe, expect, it } from 'vitest';
import { composeFailure, composeMajor, projectArgs } from '../../../src/docker/compose-cli.js';
import { resolveEndpoint } from '../../../src/docker/endpoint.js';
import { demuxLogLines } from '../../../src/docker/demux.js';
import { healthFromStatusText, toContainerDetails, toContainerInfo, toEngineEvent } from '../../../src/docker/engine.js';
import { translateEngineError } from '../../../src/docker/errors.js';
import { parseSince, splitTimestamp } from '../../../src/lifecycle/logs.js';

const errno = (code: string) => Object.assign(new Error(code), { code });

describe('engine endpoint and errors', () => {
  it('DOCKER_HOST decides the endpoint; the default socket otherwise', () => {
    expect(resolveEndpoint({})).toMatchObject({ kind: 'unix', socketPath: '/var/run/docker.sock', fromEnv: false });
    expect(resolveEndpoint({ DOCKER_HOST: 'unix:///run/user/1000/docker.sock' })).toMatchObject({ kind: 'unix', socketPath: '/run/user/1000/docker.sock', fromEnv: true });
    expect(resolveEndpoint({ DOCKER_HOST: 'tcp://10.0.0.5:2375' })).toMatchObject({ kind: 'tcp', host: '10.0.0.5', port: 2375, tls: null });
    expect(resolveEndpoint({ DOCKER_HOST: 'tcp://h', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/c' })).toMatchObject({ port: 2376, tls: { ca: '/c/ca.pem' } });
    expect(resolveEndpoint({ DOCKER_HOST: 'ssh://me@h' })).toMatchObject({ kind: 'ssh' });
  });

  it('daemon down, missing socket and permission denied are each their own exit-4 error with a hint', () => {
    const local = resolveEndpoint({});
    const down = translateEngineError(local, 'list', errno('ECONNREFUSED'));
    expect([down.code, down.exitCode]).toEqual(['DOCKER_UNAVAILABLE', 4]);
    expect(down.message).toContain('is not running');
    expect(down.hint).toContain('systemctl start docker');
    const denied = translateEngineError(local, 'list', errno('EACCES'));
    expect([denied.code, denied.exitCode]).toEqual(['DOCKER_PERMISSION', 4]);
    expect(denied.hint).toContain('docker group');
    const missing = translateEngineError(resolveEndpoint({ DOCKER_HOST: 'unix:///nope.sock' }), 'list', errno('ENOENT'));
    expect(missing.message).toBe('no Docker engine at unix:///nope.sock: the socket does not exist');
    expect(missing.hint).toContain('DOCKER_HOST is set to unix:///nope.sock');
    const refused = translateEngineError(local, 'start container', Object.assign(new Error('x'), { statusCode: 500, json: { message: 'port is already allocated' } }));
    expect([refused.code, refused.exitCode, refused.message]).toEqual(['EXTERNAL', 5, 'Docker engine: start container failed: port is already allocated']);
  });
});

describe('compose CLI', () => {
  it('only Compose v2 and later is accepted', () => {
    expect(composeMajor('2.26.1-4')).toBe(2);
    expect(composeMajor('v2.29.7')).toBe(2);
    expect(composeMajor('1.29.2')).toBe(1);
    expect(composeMajor('garbage')).toBeUndefined();
  });

  it('project arguments name the project, files and profile', () => {
    expect(projectArgs({ name: 'p', files: ['a.yml', 'b.yml'], profile: 'full' })).toEqual(['compose', '-p', 'p', '-f', 'a.yml', '-f', 'b.yml', '--profile', 'full']);
  });

  it('compose failures become the right error', () => {
    expect(composeFailure('up', { code: 'ENOENT' }).code).toBe('COMPOSE_MISSING');
    expect(composeFailure('up', { exitCode: 1, stderr: 'permission denied while trying to connect to the Docker daemon socket' }).code).toBe('DOCKER_PERMISSION');
    const pull = composeFailure('pull', { exitCode: 18, stderr: 'Error response from daemon: Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io: no such host' });
    expect(pull.hint).toContain('images.overrides');
    const other = composeFailure('up --no-start', { exitCode: 1, stderr: 'line 1\nservice "x" refers to undefined network' });
    expect([other.code, other.exitCode]).toEqual(['EXTERNAL', 5]);
    expect(other.details.at(-1)).toBe('service "x" refers to undefined network');
  });
});

describe('engine answers', () => {
  it('list entries: service label, health from the status text, one line per published port', () => {
    const info = toContainerInfo({
      Id: 'abc',
      Names: ['/p-db-1'],
      State: 'running',
      Status: 'Up 2 minutes (health: starting)',
      Ports: [
        { IP: '0.0.0.0', PrivatePort: 8443, PublicPort: 3010, Type: 'tcp' },
        { IP: '::', PrivatePort: 8443, PublicPort: 3010, Type: 'tcp' },
        { PrivatePort: 9000, Type: 'tcp' },
      ],
      Labels: { 'com.docker.compose.service': 'frontend' },
    });
    expect(info).toMatchObject({ name: 'p-db-1', service: 'frontend', health: 'starting', state: 'running' });
    expect(info.ports).toEqual([{ hostIp: '0.0.0.0', hostPort: 3010, containerPort: 8443, protocol: 'tcp' }]);
    expect(healthFromStatusText('Up 1 second')).toBe('none');
  });

  it('inspect: the health check interval in seconds (Docker\'s 30 s when unset), null without a check', () => {
    const inspect = (healthcheck: { Test?: string[]; Interval?: number } | undefined) => toContainerDetails({ Id: 'c', Config: { Healthcheck: healthcheck } }).healthIntervalS;
    expect(inspect({ Test: ['CMD-SHELL', 'true'], Interval: 1_000_000_000 })).toBe(1);
    expect(inspect({ Test: ['CMD-SHELL', 'true'] })).toBe(30);
    expect(inspect({ Test: ['NONE'] })).toBeNull();
    expect(inspect(undefined)).toBeNull();
  });

  it('events: health changes and exits are read, exec probes ignored', () => {
    expect(toEngineEvent({ Type: 'container', Action: 'health_status: healthy', Actor: { ID: 'c1', Attributes: { 'com.docker.compose.service': 'db' } }, timeNano: 2e15 })).toEqual({
      id: 'c1',
      service: 'db',
      action: 'health_status',
      health: 'healthy',
      time: 2e9,
    });
    expect(toEngineEvent({ Type: 'container', Action: 'die', Actor: { ID: 'c1', Attributes: { exitCode: '3' } }, time: 5 })).toMatchObject({ action: 'die', exitCode: 3 });
    expect(toEngineEvent({ Type: 'container', Action: 'exec_start: sh -c true', Actor: { ID: 'c1' } })).toBeUndefined();
    expect(toEngineEvent({ Type: 'network', Action: 'connect', Actor: { ID: 'n' } })).toBeUndefined();
  });

  it('multiplexed logs are split into stdout and stderr lines, across frame boundaries', async () => {
    const frame = (stream: number, text: string) => {
      const body = Buffer.from(text);
      const head = Buffer.alloc(8);
      head[0] = stream;
      head.writeUInt32BE(body.length, 4);
      return Buffer.concat([head, body]);
    };
    const all = Buffer.concat([frame(1, 'hello\nwor'), frame(2, 'oops\n'), frame(1, 'ld\n')]);
    const chunks = [all.subarray(0, 5), all.subarray(5, 20), all.subarray(20)];
    const lines = [];
    for await (const line of demuxLogLines((async function* () { yield* chunks; })(), false)) lines.push(line);
    expect(lines).toEqual([
      { stream: 'stdout', text: 'hello' },
      { stream: 'stderr', text: 'oops' },
      { stream: 'stdout', text: 'world' },
    ]);
  });
});

describe('logs options', () => {
  it('--since takes durations, times and Unix seconds', () => {
    const now = Date.UTC(2024, 0, 1, 12, 0, 0);
    expect(parseSince('10m', now)).toBe(now / 1000 - 600);
    expect(parseSince('1h30m', now)).toBe(now / 1000 - 5400);
    expect(parseSince('2024-01-01T00:00:00Z', now)).toBe(Date.UTC(2024, 0, 1) / 1000);
    expect(parseSince('1700000000', now)).toBe(1_700_000_000);
    expect(() => parseSince('yesterday', now)).toThrow(/--since expects/);
  });

  it('engine timestamps are split off the line', () => {
    expect(splitTimestamp('2024-01-01T00:00:00.123456789Z hello world')).toEqual({ time: '2024-01-01T00:00:00.123456789Z', text: 'hello world' });
    expect(splitTimestamp('no stamp')).toEqual({ time: null, text: 'no stamp' });
  });
});
