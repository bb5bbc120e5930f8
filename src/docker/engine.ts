import { compareText } from '../compare.js';
import type Dockerode from 'dockerode';
import { lazyDockerode } from './client.js';
import { resolveEndpoint, type EngineEndpoint } from './endpoint.js';
import { engineGet, type EngineResponse } from './engine-http.js';
import { translateEngineError } from './errors.js';
import { demuxLogLines, type LogLine } from './demux.js';

export type { LogLine } from './demux.js';

/**
 * The Docker engine, as msting uses it. Only this module talks to the Engine API; every
 * low-level failure leaves it as a MstingError with a hint (see ./errors.ts).
 */

export const COMPOSE_LABELS = {
  project: 'com.docker.compose.project',
  service: 'com.docker.compose.service',
  oneoff: 'com.docker.compose.oneoff',
  number: 'com.docker.compose.container-number',
  configHash: 'com.docker.compose.config-hash',
  volume: 'com.docker.compose.volume',
  network: 'com.docker.compose.network',
} as const;

export type ContainerRunState = 'created' | 'running' | 'restarting' | 'paused' | 'exited' | 'removing' | 'dead';
export type ContainerHealth = 'healthy' | 'unhealthy' | 'starting' | 'none';

export interface PublishedPort {
  hostIp: string;
  hostPort: number;
  containerPort: number;
  protocol: string;
}

/** One container of a compose project, from the list call (no per-container request). */
export interface ContainerInfo {
  id: string;
  name: string;
  service: string;
  image: string;
  /** The id (`sha256:...`) of the image the container was created from. */
  imageId?: string;
  state: ContainerRunState;
  /** From the engine's status text; 'none' when the container has no health check (or is not running). */
  health: ContainerHealth;
  /** The engine's status text, e.g. "Up 5 minutes (healthy)" or "Exited (1) 2 seconds ago". */
  statusText: string;
  /** Seconds since the epoch. */
  created: number;
  ports: PublishedPort[];
  labels: Record<string, string>;
  /** The container's IPv4 address on each network it joined (network name → address), while it runs. */
  addresses?: Record<string, string>;
}

/** What one inspect adds: exit code, restarts, timings, the health check and its last output. */
export interface ContainerDetails {
  id: string;
  name: string;
  service: string;
  state: ContainerRunState;
  health: ContainerHealth;
  hasHealthcheck: boolean;
  /** Seconds between health probes (Docker's default of 30 when the check does not set one); null without a check. */
  healthIntervalS: number | null;
  exitCode: number;
  restartCount: number;
  startedAt: string | null;
  finishedAt: string | null;
  oomKilled: boolean;
  /** The last health probe's output, when it failed. */
  lastHealthOutput: string | null;
  error: string;
}

export interface EngineEvent {
  /** Container id. */
  id: string;
  service: string;
  /** 'create', 'start', 'die', 'stop', 'kill', 'destroy', 'health_status', 'oom', 'restart', ... */
  action: string;
  /** For health_status: healthy | unhealthy | starting. */
  health?: ContainerHealth;
  exitCode?: number;
  /** Milliseconds since the epoch. */
  time: number;
}

export interface LogOptions {
  follow: boolean;
  tail?: number | undefined;
  /** Unix seconds, or a duration/timestamp string the engine understands. */
  since?: number | string | undefined;
  timestamps?: boolean;
}

export interface ProjectResource {
  id: string;
  name: string;
}

export interface DockerEngine {
  readonly endpoint: EngineEndpoint;
  /** Succeeds when the engine answers; throws DOCKER_UNAVAILABLE or DOCKER_PERMISSION (exit 4) otherwise. */
  ping(): Promise<{ version: string; apiVersion: string }>;
  /** Every container of the project, running or not, one-off `run` containers left out. One engine call. */
  listContainers(project: string): Promise<ContainerInfo[]>;
  /** Running containers of every project (to name what holds a port). One engine call. */
  listRunningContainers(): Promise<ContainerInfo[]>;
  inspectContainer(id: string): Promise<ContainerDetails>;
  startContainer(id: string): Promise<void>;
  /** Graceful stop: SIGTERM (or the image's stop signal), then SIGKILL after `timeoutS`. */
  stopContainer(id: string, timeoutS: number): Promise<void>;
  removeContainer(id: string): Promise<void>;
  /**
   * Send a signal (`SIGHUP`, ...) to a running container's main process, e.g. to make a service
   * reopen its log files. A container that is not running throws.
   */
  signalContainer(id: string, signal: string): Promise<void>;
  /**
   * Container events of the project from now on, until `signal` aborts. Subscribe before
   * acting, so nothing that happens in between is missed.
   */
  events(project: string, signal: AbortSignal): Promise<AsyncIterable<EngineEvent>>;
  /** A container's log as lines, following until `signal` aborts when `follow` is set. */
  logs(id: string, options: LogOptions, signal: AbortSignal): AsyncIterable<LogLine>;
  imagePresent(reference: string): Promise<boolean>;
  /** The id (`sha256:...`) of the image a reference names on this machine, or null when it is not here. */
  imageId(reference: string): Promise<string | null>;
  /**
   * The engine's system information (`GET /info`, the server part of `docker info`): CPUs and
   * memory it can give containers, its root directory, runtimes.
   */
  info(): Promise<Record<string, unknown>>;
  listNetworks(project: string): Promise<ProjectResource[]>;
  removeNetwork(id: string): Promise<void>;
  listVolumes(project: string): Promise<ProjectResource[]>;
  removeVolume(name: string): Promise<void>;
}

const RUN_STATES = new Set<ContainerRunState>(['created', 'running', 'restarting', 'paused', 'exited', 'removing', 'dead']);

function runState(value: unknown): ContainerRunState {
  return RUN_STATES.has(value as ContainerRunState) ? (value as ContainerRunState) : 'dead';
}

/** Health as the list call shows it, inside the status text. */
export function healthFromStatusText(status: string): ContainerHealth {
  if (/\(healthy\)/.test(status)) return 'healthy';
  if (/\(unhealthy\)/.test(status)) return 'unhealthy';
  if (/\(health: starting\)/.test(status)) return 'starting';
  return 'none';
}

interface RawSummary {
  Id: string;
  Names?: string[];
  Image?: string;
  ImageID?: string;
  State?: string;
  Status?: string;
  Created?: number;
  Ports?: { IP?: string; PrivatePort: number; PublicPort?: number; Type?: string }[];
  Labels?: Record<string, string>;
  NetworkSettings?: { Networks?: Record<string, { IPAddress?: string }> | null } | null;
}

export function toContainerInfo(raw: RawSummary): ContainerInfo {
  const labels = raw.Labels ?? {};
  const ports: PublishedPort[] = [];
  const seen = new Set<string>();
  for (const p of raw.Ports ?? []) {
    if (p.PublicPort === undefined) continue;
    const hostIp = p.IP ?? '0.0.0.0';
    // The engine lists an IPv6 twin of every IPv4 binding on 0.0.0.0; one line is enough.
    const key = `${p.PublicPort}/${p.PrivatePort}/${p.Type}`;
    if (hostIp === '::' && seen.has(key)) continue;
    seen.add(key);
    ports.push({ hostIp, hostPort: p.PublicPort, containerPort: p.PrivatePort, protocol: p.Type ?? 'tcp' });
  }
  ports.sort((a, b) => a.hostPort - b.hostPort || a.containerPort - b.containerPort);
  const status = raw.Status ?? '';
  return {
    id: raw.Id,
    name: (raw.Names?.[0] ?? raw.Id).replace(/^\//, ''),
    service: labels[COMPOSE_LABELS.service] ?? '',
    image: raw.Image ?? '',
    imageId: raw.ImageID ?? '',
    state: runState(raw.State),
    health: healthFromStatusText(status),
    statusText: status,
    created: raw.Created ?? 0,
    ports,
    addresses: Object.fromEntries(
      Object.entries(raw.NetworkSettings?.Networks ?? {})
        .filter(([, n]) => typeof n.IPAddress === 'string' && n.IPAddress !== '')
        .map(([name, n]) => [name, n.IPAddress as string]),
    ),
    labels,
  };
}

interface RawInspect {
  Id: string;
  Name?: string;
  RestartCount?: number;
  Config?: { Labels?: Record<string, string>; Healthcheck?: { Test?: string[]; Interval?: number } };
  State?: {
    Status?: string;
    ExitCode?: number;
    Error?: string;
    OOMKilled?: boolean;
    StartedAt?: string;
    FinishedAt?: string;
    Health?: { Status?: string; Log?: { ExitCode?: number; Output?: string }[] };
  };
}

const ZERO_TIME = '0001-01-01T00:00:00Z';

export function toContainerDetails(raw: RawInspect): ContainerDetails {
  const state = raw.State ?? {};
  const test = raw.Config?.Healthcheck?.Test;
  const hasHealthcheck = Array.isArray(test) && test.length > 0 && test[0] !== 'NONE';
  const healthStatus = state.Health?.Status;
  const health: ContainerHealth =
    healthStatus === 'healthy' || healthStatus === 'unhealthy' || healthStatus === 'starting' ? healthStatus : 'none';
  const lastProbe = state.Health?.Log?.at(-1);
  const time = (t: string | undefined) => (t && !t.startsWith(ZERO_TIME.slice(0, 4)) ? t : null);
  return {
    id: raw.Id,
    name: (raw.Name ?? raw.Id).replace(/^\//, ''),
    service: raw.Config?.Labels?.[COMPOSE_LABELS.service] ?? '',
    state: runState(state.Status),
    health,
    hasHealthcheck,
    // The engine gives nanoseconds, and 0 for "not set".
    healthIntervalS: hasHealthcheck ? (raw.Config?.Healthcheck?.Interval ?? 0) / 1e9 || 30 : null,
    exitCode: state.ExitCode ?? 0,
    restartCount: raw.RestartCount ?? 0,
    startedAt: time(state.StartedAt),
    finishedAt: time(state.FinishedAt),
    oomKilled: state.OOMKilled ?? false,
    lastHealthOutput: lastProbe && lastProbe.ExitCode !== 0 ? (lastProbe.Output ?? '').trim() || null : null,
    error: state.Error ?? '',
  };
}

interface RawEvent {
  Type?: string;
  Action?: string;
  status?: string;
  id?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
  time?: number;
  timeNano?: number;
}

export function toEngineEvent(raw: RawEvent): EngineEvent | undefined {
  if (raw.Type !== undefined && raw.Type !== 'container') return undefined;
  const actionText = raw.Action ?? raw.status ?? '';
  const attrs = raw.Actor?.Attributes ?? {};
  const id = raw.Actor?.ID ?? raw.id ?? '';
  if (!id || !actionText) return undefined;
  // Exec events ("exec_start: sh -c ...") are health probes and docker exec: noise here.
  if (actionText.startsWith('exec_')) return undefined;
  const [action, detail] = actionText.split(/:\s*/, 2) as [string, string | undefined];
  const event: EngineEvent = {
    id,
    service: attrs[COMPOSE_LABELS.service] ?? '',
    action,
    time: raw.timeNano ? Math.floor(raw.timeNano / 1e6) : (raw.time ?? 0) * 1000,
  };
  if (action === 'health_status' && (detail === 'healthy' || detail === 'unhealthy' || detail === 'starting')) event.health = detail;
  if (attrs.exitCode !== undefined) event.exitCode = Number(attrs.exitCode);
  return event;
}

/** Split a stream of newline-delimited JSON objects. */
async function* jsonLines(stream: AsyncIterable<Buffer | string>): AsyncIterable<unknown> {
  let buffer = '';
  for await (const chunk of stream) {
    buffer += chunk.toString();
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl).trim();
      buffer = buffer.slice(nl + 1);
      if (line) yield JSON.parse(line);
    }
  }
}

async function toAsyncIterable(buffer: Buffer): Promise<AsyncIterable<Buffer>> {
  return (async function* () {
    yield buffer;
  })();
}

function labelFilter(project: string): string {
  return encodeURIComponent(JSON.stringify({ label: [`${COMPOSE_LABELS.project}=${project}`] }));
}

export function createDockerEngine(env: NodeJS.ProcessEnv): DockerEngine {
  const endpoint = resolveEndpoint(env);
  /** dockerode, loaded on first use (it is heavy to import; see ./engine-http.ts). */
  const docker = lazyDockerode(endpoint);

  /** A read-only GET: plain HTTP where possible, dockerode's modem over ssh. */
  const get = async (what: string, path: string): Promise<EngineResponse> => {
    try {
      if (endpoint.kind === 'ssh') {
        const d = await docker();
        const body = await new Promise<unknown>((resolve, reject) => {
          d.modem.dial({ path, method: 'GET', statusCodes: { 200: true, 404: 'not found', 500: 'server error' } }, (err, data) => (err ? reject(err) : resolve(data)));
        });
        return { status: 200, body };
      }
      return await engineGet(endpoint, path, { timeoutMs: 15_000 });
    } catch (err) {
      throw translateEngineError(endpoint, what, err);
    }
  };

  const call = async <T>(what: string, fn: (d: Dockerode) => Promise<T>): Promise<T> => {
    try {
      return await fn(await docker());
    } catch (err) {
      throw translateEngineError(endpoint, what, err);
    }
  };

  const isStatus = (err: unknown, ...codes: number[]): boolean => codes.includes((err as { statusCode?: number }).statusCode ?? 0);

  const imageId = async (reference: string): Promise<string | null> => {
    try {
      return (await inspectImage(reference)).Id ?? null;
    } catch (err) {
      if (isStatus(err, 404)) return null;
      throw translateEngineError(endpoint, 'inspect image', err);
    }
  };

  return {
    endpoint,

    async ping() {
      const { body } = await get('version', '/version');
      const v = body as { Version?: string; ApiVersion?: string };
      return { version: v.Version ?? 'unknown', apiVersion: v.ApiVersion ?? 'unknown' };
    },

    async listContainers(project) {
      const { body } = await get('list containers', `/containers/json?all=1&filters=${labelFilter(project)}`);
      return (body as RawSummary[])
        .filter((c) => (c.Labels?.[COMPOSE_LABELS.oneoff] ?? 'False') !== 'True')
        .map(toContainerInfo)
        .sort((a, b) => compareText(a.service, b.service) || compareText(a.name, b.name));
    },

    async listRunningContainers() {
      const { body } = await get('list containers', '/containers/json');
      return (body as RawSummary[]).map(toContainerInfo);
    },

    async inspectContainer(id) {
      const { body } = await get('inspect container', `/containers/${encodeURIComponent(id)}/json`);
      return toContainerDetails(body as RawInspect);
    },

    async startContainer(id) {
      await call('start container', async (d) => {
        try {
          await d.getContainer(id).start();
        } catch (err) {
          if (!isStatus(err, 304)) throw err; // already started
        }
      });
    },

    async stopContainer(id, timeoutS) {
      await call('stop container', async (d) => {
        try {
          await d.getContainer(id).stop({ t: timeoutS });
        } catch (err) {
          if (!isStatus(err, 304, 404)) throw err; // already stopped, or gone
        }
      });
    },

    async removeContainer(id) {
      await call('remove container', async (d) => {
        try {
          await d.getContainer(id).remove({ force: true, v: false });
        } catch (err) {
          if (!isStatus(err, 404)) throw err;
        }
      });
    },

    async signalContainer(id, signal) {
      await call(`send ${signal} to a container`, async (d) => {
        await d.getContainer(id).kill({ signal });
      });
    },

    async events(project, signal) {
      const stream = await call('subscribe to events', (d) =>
        d.getEvents({ filters: { type: ['container'], label: [`${COMPOSE_LABELS.project}=${project}`] } }),
      );
      const readable = stream as NodeJS.ReadableStream & { destroy?: () => void };
      const stop = () => readable.destroy?.();
      if (signal.aborted) stop();
      else signal.addEventListener('abort', stop, { once: true });
      return (async function* () {
        try {
          for await (const raw of jsonLines(readable as AsyncIterable<Buffer>)) {
            const event = toEngineEvent(raw as RawEvent);
            if (event) yield event;
          }
        } catch (err) {
          if (!signal.aborted) throw translateEngineError(endpoint, 'read events', err);
        } finally {
          signal.removeEventListener('abort', stop);
          stop();
        }
      })();
    },

    logs(id, options, signal) {
      return (async function* () {
        const d = await docker();
        const container = d.getContainer(id);
        let tty = false;
        let source: AsyncIterable<Buffer>;
        try {
          const info = (await container.inspect()) as { Config?: { Tty?: boolean } };
          tty = info.Config?.Tty ?? false;
          const base: Dockerode.ContainerLogsOptions = { stdout: true, stderr: true, timestamps: options.timestamps ?? false, since: options.since ?? 0 };
          if (options.tail !== undefined) base.tail = options.tail;
          if (options.follow) {
            const stream = (await container.logs({ ...base, follow: true })) as unknown as NodeJS.ReadableStream & { destroy?: () => void };
            const stop = () => stream.destroy?.();
            if (signal.aborted) stop();
            else signal.addEventListener('abort', stop, { once: true });
            source = stream as AsyncIterable<Buffer>;
          } else {
            source = await toAsyncIterable((await container.logs({ ...base, follow: false })) as unknown as Buffer);
          }
        } catch (err) {
          throw translateEngineError(endpoint, 'read logs', err);
        }
        try {
          yield* demuxLogLines(source, tty);
        } catch (err) {
          if (!signal.aborted) throw translateEngineError(endpoint, 'read logs', err);
        }
      })();
    },

    async imagePresent(reference) {
      return (await imageId(reference)) !== null;
    },

    imageId,

    async info() {
      const { body } = await get('read engine information', '/info');
      return body as Record<string, unknown>;
    },

    async listNetworks(project) {
      const { body } = await get('list networks', `/networks?filters=${labelFilter(project)}`);
      return (body as { Id: string; Name: string }[]).map((n) => ({ id: n.Id, name: n.Name })).sort((a, b) => compareText(a.name, b.name));
    },

    async removeNetwork(id) {
      await call('remove network', async (d) => {
        try {
          await d.getNetwork(id).remove();
        } catch (err) {
          if (!isStatus(err, 404)) throw err;
        }
      });
    },

    async listVolumes(project) {
      const { body } = await get('list volumes', `/volumes?filters=${labelFilter(project)}`);
      return ((body as { Volumes?: { Name: string }[] | null }).Volumes ?? []).map((v) => ({ id: v.Name, name: v.Name })).sort((a, b) => compareText(a.name, b.name));
    },

    async removeVolume(name) {
      await call('remove volume', async (d) => {
        try {
          await d.getVolume(name).remove();
        } catch (err) {
          if (!isStatus(err, 404)) throw err;
        }
      });
    },
  };

  /** An image's inspect document; throws the engine's error (404 when it is not here) untranslated. */
  async function inspectImage(reference: string): Promise<{ Id?: string }> {
    if (endpoint.kind === 'ssh') return (await (await docker()).getImage(reference).inspect()) as { Id?: string };
    return (await engineGet(endpoint, `/images/${reference.split('/').map(encodeURIComponent).join('/')}/json`, { timeoutMs: 15_000 })).body as { Id?: string };
  }
}
