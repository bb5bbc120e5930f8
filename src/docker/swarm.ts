import { compareText } from '../compare.js';
import { MstingError } from '../errors.js';
import { lazyDockerode } from './client.js';
import { runDocker } from './cli.js';
import { resolveEndpoint, type EngineEndpoint } from './endpoint.js';
import { engineGet } from './engine-http.js';
import { translateEngineError } from './errors.js';

/**
 * Docker Swarm, as msting uses it: nodes and their labels, the services and tasks of a stack,
 * secrets and configs (created through the Engine API, so a value never reaches argv), and
 * `docker stack deploy` / `docker stack rm` / `docker service logs` through the docker CLI, which
 * owns the stack file format. Every failure leaves as a MstingError with a hint.
 */

/** The label `docker stack deploy` puts on everything of a stack. */
export const STACK_NAMESPACE_LABEL = 'com.docker.stack.namespace';

export interface SwarmInfo {
  /** inactive | pending | active | error | locked */
  state: string;
  nodeId: string;
  /** This engine is a manager (it can deploy and list). */
  manager: boolean;
}

export interface SwarmNode {
  id: string;
  /** The node object's version, needed to update it. */
  version: number;
  hostname: string;
  role: 'manager' | 'worker';
  /** active | pause | drain */
  availability: string;
  /** ready | down | unknown | disconnected */
  state: string;
  address: string;
  labels: Record<string, string>;
  nanoCpus: number;
  memoryBytes: number;
  /** Generic resources the node's engine advertises (`node-generic-resources` in daemon.json). */
  genericResources: { kind: string; value: number | string }[];
  leader: boolean;
}

export interface SwarmService {
  id: string;
  /** Full name, `<stack>_<service>`. */
  name: string;
  labels: Record<string, string>;
  /** Desired replicas (replicated mode). */
  replicas: number;
  image: string;
  hasHealthcheck: boolean;
  /** The last rolling update: updating, paused, completed, rollback_started, rollback_completed, ... */
  update: { state: string; message: string } | null;
}

export interface SwarmTask {
  id: string;
  serviceId: string;
  nodeId: string | null;
  slot: number | null;
  desiredState: string;
  /** new, pending, assigned, accepted, preparing, starting, running, complete, failed, shutdown, rejected, orphaned, remove */
  state: string;
  message: string;
  error: string | null;
  exitCode: number | null;
  /** ISO time of the last state change. */
  timestamp: string;
}

export interface SwarmObjectInfo {
  id: string;
  name: string;
  labels: Record<string, string>;
}

export interface DockerCliStreamOptions {
  env: NodeJS.ProcessEnv;
  signal?: AbortSignal | undefined;
  onLine?: ((line: string) => void) | undefined;
}

export interface SwarmEngine {
  readonly endpoint: EngineEndpoint;
  /** This engine's swarm state; throws DOCKER_UNAVAILABLE when the engine does not answer. */
  info(): Promise<SwarmInfo>;
  listNodes(): Promise<SwarmNode[]>;
  /** Add (value) or remove (null) node labels, at the node's current version. */
  updateNodeLabels(id: string, changes: Record<string, string | null>): Promise<SwarmNode>;
  /** Services of a stack, by name. */
  listServices(stack: string): Promise<SwarmService[]>;
  /** Every task of the stack's services, newest first within a slot. */
  listTasks(serviceIds: readonly string[]): Promise<SwarmTask[]>;
  listSecrets(labels: Record<string, string>): Promise<SwarmObjectInfo[]>;
  listConfigs(labels: Record<string, string>): Promise<SwarmObjectInfo[]>;
  /** Create a secret from `data`; the value goes in the request body, never on a command line. */
  createSecret(name: string, data: string, labels: Record<string, string>): Promise<void>;
  createConfig(name: string, data: string, labels: Record<string, string>): Promise<void>;
  /** Remove a secret or config; one still used by a service is left (false). */
  removeSecret(id: string): Promise<boolean>;
  removeConfig(id: string): Promise<boolean>;
  /** An image's entrypoint and command, when the image is on this engine; undefined otherwise. */
  imageProcess(image: string): Promise<{ entrypoint: string[]; cmd: string[] } | undefined>;
  /**
   * `docker stack deploy -c FILE --with-registry-auth --resolve-image WHEN NAME`. `always` asks the
   * registry for every service's digest (a moved tag rolls the service); `changed` only for
   * services whose image reference changed.
   */
  deployStack(file: string, stack: string, options: DockerCliStreamOptions & { resolveImage?: 'always' | 'changed' }): Promise<void>;
  /** `docker stack rm NAME`: services, networks, secrets and configs of the stack; volumes stay. */
  removeStack(stack: string, options: DockerCliStreamOptions): Promise<void>;
  /** `docker service logs` of one service, each line passed on. Resolves when the command ends. */
  serviceLogs(service: string, options: DockerCliStreamOptions & { follow: boolean; tail?: number | undefined; since?: string | undefined; timestamps?: boolean }): Promise<void>;
}

interface RawNode {
  ID: string;
  Version?: { Index?: number };
  Spec?: { Role?: string; Availability?: string; Labels?: Record<string, string> };
  Description?: {
    Hostname?: string;
    Resources?: { NanoCPUs?: number; MemoryBytes?: number; GenericResources?: { DiscreteResourceSpec?: { Kind: string; Value: number }; NamedResourceSpec?: { Kind: string; Value: string } }[] | null };
  };
  Status?: { State?: string; Addr?: string };
  ManagerStatus?: { Leader?: boolean };
}

function toNode(raw: RawNode): SwarmNode {
  return {
    id: raw.ID,
    version: raw.Version?.Index ?? 0,
    hostname: raw.Description?.Hostname ?? raw.ID.slice(0, 12),
    role: raw.Spec?.Role === 'manager' ? 'manager' : 'worker',
    availability: raw.Spec?.Availability ?? 'active',
    state: raw.Status?.State ?? 'unknown',
    address: raw.Status?.Addr ?? '',
    labels: raw.Spec?.Labels ?? {},
    nanoCpus: raw.Description?.Resources?.NanoCPUs ?? 0,
    memoryBytes: raw.Description?.Resources?.MemoryBytes ?? 0,
    genericResources: (raw.Description?.Resources?.GenericResources ?? []).flatMap((r): { kind: string; value: number | string }[] =>
      r.DiscreteResourceSpec ? [{ kind: r.DiscreteResourceSpec.Kind, value: r.DiscreteResourceSpec.Value }] : r.NamedResourceSpec ? [{ kind: r.NamedResourceSpec.Kind, value: r.NamedResourceSpec.Value }] : [],
    ),
    leader: raw.ManagerStatus?.Leader ?? false,
  };
}

interface RawService {
  ID: string;
  Spec?: {
    Name?: string;
    Labels?: Record<string, string>;
    Mode?: { Replicated?: { Replicas?: number }; Global?: object };
    TaskTemplate?: { ContainerSpec?: { Image?: string; Healthcheck?: { Test?: string[] } } };
  };
  UpdateStatus?: { State?: string; Message?: string };
}

interface RawTask {
  ID: string;
  ServiceID: string;
  NodeID?: string;
  Slot?: number;
  DesiredState?: string;
  Status?: { State?: string; Message?: string; Err?: string; Timestamp?: string; ContainerStatus?: { ExitCode?: number } };
}

function filters(value: Record<string, string[]>): string {
  return encodeURIComponent(JSON.stringify(value));
}

function labelList(labels: Record<string, string>): string[] {
  return Object.entries(labels).map(([k, v]) => `${k}=${v}`);
}

export function createSwarmEngine(env: NodeJS.ProcessEnv): SwarmEngine {
  const endpoint = resolveEndpoint(env);
  const docker = lazyDockerode(endpoint);

  const get = async (what: string, path: string): Promise<unknown> => {
    try {
      if (endpoint.kind === 'ssh') {
        const d = await docker();
        return await new Promise<unknown>((resolve, reject) => {
          d.modem.dial({ path, method: 'GET', statusCodes: { 200: true, 404: 'not found', 503: 'not a swarm manager', 500: 'server error' } }, (err, data) => (err ? reject(err) : resolve(data)));
        });
      }
      return (await engineGet(endpoint, path, { timeoutMs: 15_000 })).body;
    } catch (err) {
      throw swarmError(endpoint, what, err);
    }
  };

  const cli = async (args: string[], what: string, options: DockerCliStreamOptions): Promise<string> => {
    const r = await runDocker(args, { env: options.env, signal: options.signal, onLine: options.onLine });
    if (r.code === 'ENOENT') throw new MstingError('DOCKER_UNAVAILABLE', 'the docker command is not installed', { hint: 'install the Docker CLI (it deploys the Swarm stack)' });
    if (r.canceled) throw new MstingError('INTERRUPTED', `${what} interrupted`);
    if (r.failed) {
      throw new MstingError('EXTERNAL', `${what} failed: ${r.all.trim().split('\n').slice(-5).join('; ')}`, { hint: 'run again with --verbose; `docker node ls` and `docker stack ps` show the swarm' });
    }
    return r.stdout;
  };

  const create = async (kind: 'secret' | 'config', name: string, data: string, labels: Record<string, string>) => {
    try {
      const d = await docker();
      const spec = { Name: name, Labels: labels, Data: Buffer.from(data, 'utf8').toString('base64') };
      if (kind === 'secret') await d.createSecret(spec);
      else await d.createConfig(spec);
    } catch (err) {
      // Content-named: one that exists already holds the same content.
      if ((err as { statusCode?: number }).statusCode === 409) return;
      throw swarmError(endpoint, `create ${kind} ${name}`, err);
    }
  };

  const remove = async (kind: 'secret' | 'config', id: string): Promise<boolean> => {
    try {
      const d = await docker();
      if (kind === 'secret') await d.getSecret(id).remove();
      else await d.getConfig(id).remove();
      return true;
    } catch (err) {
      const status = (err as { statusCode?: number }).statusCode;
      if (status === 404) return true;
      // 400 / 409: still in use by a service.
      if (status === 400 || status === 409) return false;
      throw swarmError(endpoint, `remove ${kind}`, err);
    }
  };

  return {
    endpoint,

    async info() {
      const body = (await get('read swarm state', '/info')) as { Swarm?: { LocalNodeState?: string; NodeID?: string; ControlAvailable?: boolean } };
      return { state: body.Swarm?.LocalNodeState ?? 'inactive', nodeId: body.Swarm?.NodeID ?? '', manager: body.Swarm?.ControlAvailable ?? false };
    },

    async listNodes() {
      const body = (await get('list nodes', '/nodes')) as RawNode[];
      return body.map(toNode).sort((a, b) => (a.role === b.role ? compareText(a.hostname, b.hostname) : a.role === 'manager' ? -1 : 1));
    },

    async updateNodeLabels(id, changes) {
      const raw = (await get('inspect node', `/nodes/${encodeURIComponent(id)}`)) as RawNode;
      const labels = { ...(raw.Spec?.Labels ?? {}) };
      for (const [key, value] of Object.entries(changes)) {
        if (value === null) delete labels[key];
        else labels[key] = value;
      }
      try {
        const d = await docker();
        await d.getNode(raw.ID).update({ version: raw.Version?.Index ?? 0, ...raw.Spec, Labels: labels } as never);
      } catch (err) {
        throw swarmError(endpoint, `update node ${id}`, err);
      }
      return toNode((await get('inspect node', `/nodes/${encodeURIComponent(raw.ID)}`)) as RawNode);
    },

    async listServices(stack) {
      const body = (await get('list services', `/services?filters=${filters({ label: [`${STACK_NAMESPACE_LABEL}=${stack}`] })}`)) as RawService[];
      return body
        .map((raw) => ({
          id: raw.ID,
          name: raw.Spec?.Name ?? raw.ID,
          labels: raw.Spec?.Labels ?? {},
          replicas: raw.Spec?.Mode?.Replicated?.Replicas ?? 0,
          image: (raw.Spec?.TaskTemplate?.ContainerSpec?.Image ?? '').replace(/@sha256:[a-f0-9]{64}$/, ''),
          hasHealthcheck: (raw.Spec?.TaskTemplate?.ContainerSpec?.Healthcheck?.Test ?? ['NONE'])[0] !== 'NONE',
          update: raw.UpdateStatus?.State ? { state: raw.UpdateStatus.State, message: raw.UpdateStatus.Message ?? '' } : null,
        }))
        .sort((a, b) => compareText(a.name, b.name));
    },

    async listTasks(serviceIds) {
      if (serviceIds.length === 0) return [];
      const body = (await get('list tasks', `/tasks?filters=${filters({ service: [...serviceIds] })}`)) as RawTask[];
      return body
        .map((raw) => ({
          id: raw.ID,
          serviceId: raw.ServiceID,
          nodeId: raw.NodeID ?? null,
          slot: raw.Slot ?? null,
          desiredState: raw.DesiredState ?? '',
          state: raw.Status?.State ?? 'new',
          message: raw.Status?.Message ?? '',
          error: raw.Status?.Err ?? null,
          exitCode: raw.Status?.ContainerStatus?.ExitCode ?? null,
          timestamp: raw.Status?.Timestamp ?? '',
        }))
        .sort((a, b) => compareText(b.timestamp, a.timestamp));
    },

    async listSecrets(labels) {
      const body = (await get('list secrets', `/secrets?filters=${filters({ label: labelList(labels) })}`)) as { ID: string; Spec?: { Name?: string; Labels?: Record<string, string> } }[];
      return body.map((s) => ({ id: s.ID, name: s.Spec?.Name ?? s.ID, labels: s.Spec?.Labels ?? {} }));
    },

    async listConfigs(labels) {
      const body = (await get('list configs', `/configs?filters=${filters({ label: labelList(labels) })}`)) as { ID: string; Spec?: { Name?: string; Labels?: Record<string, string> } }[];
      return body.map((s) => ({ id: s.ID, name: s.Spec?.Name ?? s.ID, labels: s.Spec?.Labels ?? {} }));
    },

    createSecret: (name, data, labels) => create('secret', name, data, labels),
    createConfig: (name, data, labels) => create('config', name, data, labels),
    removeSecret: (id) => remove('secret', id),
    removeConfig: (id) => remove('config', id),

    async imageProcess(image) {
      try {
        const body = (await engineGet(endpoint, `/images/${encodeURIComponent(image)}/json`, { timeoutMs: 15_000 })).body as { Config?: { Entrypoint?: string[] | null; Cmd?: string[] | null } };
        return { entrypoint: body.Config?.Entrypoint ?? [], cmd: body.Config?.Cmd ?? [] };
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode === 404) return undefined;
        throw swarmError(endpoint, `inspect image ${image}`, err);
      }
    },

    async deployStack(file, stack, options) {
      await cli(['stack', 'deploy', '--compose-file', file, '--with-registry-auth', '--resolve-image', options.resolveImage ?? 'always', stack], `docker stack deploy ${stack}`, options);
    },

    async removeStack(stack, options) {
      await cli(['stack', 'rm', stack], `docker stack rm ${stack}`, options);
    },

    async serviceLogs(service, options) {
      const args = ['service', 'logs', '--no-task-ids', '--raw'];
      if (options.follow) args.push('--follow');
      if (options.tail !== undefined) args.push('--tail', String(options.tail));
      if (options.since !== undefined) args.push('--since', options.since);
      if (options.timestamps) args.push('--timestamps');
      await cli([...args, service], `docker service logs ${service}`, options);
    },
  };
}

function swarmError(endpoint: EngineEndpoint, what: string, err: unknown): MstingError {
  const status = (err as { statusCode?: number }).statusCode;
  if (status === 503) {
    return new MstingError('PREFLIGHT', `Docker engine: ${what}: this engine is not a swarm manager`, {
      hint: 'run msting on a manager node of the swarm (`docker swarm init` makes this engine one; see docs/swarm.md)',
      cause: err,
    });
  }
  return translateEngineError(endpoint, what, err);
}
