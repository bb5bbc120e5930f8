import { hostname } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type Docker from 'dockerode';
import { MstingError } from '../errors.js';
import { lazyDockerode } from './client.js';
import { ExecDemux } from './demux.js';
import { resolveEndpoint } from './endpoint.js';
import { translateEngineError } from './errors.js';
import { readVolumeThroughPipe, type VolumeReader } from './volume-pipe.js';

/**
 * The Docker engine as backup and restore need it: the compose project's containers and volumes,
 * exec with streamed output and a checked exit code, and volume contents as tar streams through
 * throwaway containers. Low-level errors become MstingErrors through the adapter's one translator
 * (./errors.ts), which names DOCKER_HOST when that is where the engine was looked for.
 */
export interface BackupEngine {
  /** Every container of the compose project, running or not. */
  listContainers(project: string): Promise<ProjectContainer[]>;
  /** Every volume labelled with the compose project. */
  listVolumes(project: string): Promise<ProjectVolume[]>;
  /**
   * Run a command in a running container; stdout is streamed into `stdout` with backpressure,
   * stdin (when given) is streamed in and closed at its end. Resolves with the exit code and the
   * tail of stderr; never throws for a non-zero exit.
   */
  exec(containerId: string, spec: ExecSpec): Promise<ExecResult>;
  /**
   * Volume contents as a tar stream (entries relative to the volume root), read-only, through a
   * named pipe when the engine shares this machine's filesystem, else the attach stream.
   */
  readVolume(volume: string, helperImage: string, signal?: AbortSignal): Promise<VolumeReader>;
  /** Extract a tar stream into a volume. */
  writeVolume(volume: string, helperImage: string, tar: Readable): Promise<void>;
  /**
   * Give a volume's root directory an owner and mode. Extraction through the engine merges into the
   * existing root and leaves it root-owned, while services that run as their own user (Redis,
   * Vault) must be able to create files there.
   */
  setVolumeRoot(volume: string, helperImage: string, root: { uid: number; gid: number; mode: number }): Promise<void>;
  /** A container's state (`paused`, `running`, ...), or `missing`. */
  containerState(containerId: string): Promise<string>;
  /** Every backup helper container on the engine, with the `host/pid` of the msting that made it. */
  listHelpers(): Promise<Array<{ id: string; owner: string | undefined }>>;
  pause(containerId: string): Promise<void>;
  unpause(containerId: string): Promise<void>;
  stop(containerId: string): Promise<void>;
  remove(containerId: string): Promise<void>;
  removeVolume(name: string): Promise<void>;
  createVolume(spec: { name: string; labels: Record<string, string>; driver: string; options: Record<string, string> }): Promise<void>;
  /** Image id and registry digests of a local image. */
  imageInfo(image: string): Promise<{ id: string; digests: string[] }>;
  /** Start a throwaway container of an image (no network) to run tools in; dispose removes it. */
  startScratch(image: string): Promise<{ id: string; dispose(): Promise<void> }>;
  /** Where the engine keeps its data (for the free-space check). */
  rootDir(): Promise<string | undefined>;
}

export interface ProjectContainer {
  id: string;
  name: string;
  service: string;
  state: string;
  image: string;
  imageId: string;
  env: Record<string, string>;
  mounts: Array<{ type: string; name: string; destination: string; readOnly: boolean }>;
}

export interface ProjectVolume {
  name: string;
  /** The volume's key in the compose file (com.docker.compose.volume). */
  key: string;
  labels: Record<string, string>;
  driver: string;
  options: Record<string, string>;
}

export interface ExecSpec {
  cmd: string[];
  env?: string[];
  user?: string;
  stdin?: Readable;
  stdout?: Writable;
  signal?: AbortSignal;
}

export interface ExecResult {
  exitCode: number;
  stderr: string;
  /** Collected stdout when no `stdout` stream was given (for short answers). */
  stdout: string;
}

const HELPER_LABEL = 'org.sting-ce.msting.helper';

/** The label on every backup helper container naming the msting process that made it: `host/pid`. */
export const OWNER_LABEL = 'org.sting-ce.msting.owner';

export function ownerValue(pid = process.pid): string {
  return `${hostname()}/${pid}`;
}

/** Labels of a helper container: what it is, and which msting process made it (see backup/interrupted.ts). */
function helperLabels(): Record<string, string> {
  return { [HELPER_LABEL]: 'backup', [OWNER_LABEL]: ownerValue() };
}
/** Attempts at freezing a container before the backup fails (see `pause`). */
const PAUSE_ATTEMPTS = 5;

/**
 * The backup engine over the Docker engine the environment names (DOCKER_HOST, or the local
 * socket). `client` replaces dockerode in tests, and `pauseRetryMs` the first wait between two
 * attempts at pausing a container (each later wait is one more of it).
 */
export function createBackupEngine(env: NodeJS.ProcessEnv, client?: Docker, { pauseRetryMs = 250 }: { pauseRetryMs?: number } = {}): BackupEngine {
  const endpoint = resolveEndpoint(env);
  const connect = client ? async () => client : lazyDockerode(endpoint);
  const wrap = async <T>(doing: string, fn: (docker: Docker) => Promise<T>): Promise<T> => {
    try {
      return await fn(await connect());
    } catch (err) {
      throw translateEngineError(endpoint, { while: doing }, err);
    }
  };

  const helper = async (docker: Docker, volume: string, image: string, readOnly: boolean): Promise<Docker.Container> =>
    docker.createContainer({
      Image: image,
      Entrypoint: ['/bin/true'],
      Cmd: [],
      Labels: helperLabels(),
      NetworkDisabled: true,
      HostConfig: { Binds: [`${volume}:/volume${readOnly ? ':ro' : ''}`], NetworkMode: 'none' },
    });

  return {
    listContainers: (project) =>
      wrap('listing the stack containers', async (docker) => {
        // A compose project's containers, or those a swarm stack of that name runs on this node
        // (msting pins the services holding data to the manager, where backup runs).
        const [composed, stacked] = await Promise.all([
          docker.listContainers({ all: true, filters: { label: [`com.docker.compose.project=${project}`] } }),
          docker.listContainers({ all: true, filters: { label: [`${STACK_LABEL}=${project}`] } }),
        ]);
        const list = [...composed, ...stacked];
        return Promise.all(
          list.map(async (c) => {
            const info = await docker.getContainer(c.Id).inspect();
            const env = Object.fromEntries((info.Config.Env ?? []).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
            return {
              id: c.Id,
              name: (c.Names[0] ?? c.Id).replace(/^\//, ''),
              service: c.Labels['com.docker.compose.service'] ?? stackMember(c.Labels[SWARM_SERVICE_LABEL], project),
              state: info.State.Paused ? 'paused' : info.State.Status,
              image: info.Config.Image,
              imageId: info.Image,
              env,
              mounts: (info.Mounts ?? []).map((m) => ({ type: m.Type, name: m.Name ?? m.Source, destination: m.Destination, readOnly: !m.RW })),
            };
          }),
        );
      }),
    listVolumes: (project) =>
      wrap('listing the stack volumes', async (docker) => {
        const [composed, stacked] = await Promise.all([
          docker.listVolumes({ filters: { label: [`com.docker.compose.project=${project}`] } }),
          docker.listVolumes({ filters: { label: [`${STACK_LABEL}=${project}`] } }),
        ]);
        return [...(composed.Volumes ?? []), ...(stacked.Volumes ?? [])].map((v) => ({
          name: v.Name,
          key: v.Labels?.['com.docker.compose.volume'] ?? stackMember(v.Name, project),
          labels: v.Labels ?? {},
          driver: v.Driver,
          options: (v.Options as Record<string, string> | null) ?? {},
        }));
      }),
    exec: (containerId, spec) =>
      wrap(`running ${spec.cmd[0]} in a container`, async (docker) => {
        if (spec.signal?.aborted) throw new MstingError('INTERRUPTED', 'interrupted');
        const container = docker.getContainer(containerId);
        const exec = await container.exec({
          Cmd: spec.cmd,
          AttachStdout: true,
          AttachStderr: true,
          AttachStdin: Boolean(spec.stdin),
          ...(spec.env ? { Env: spec.env } : {}),
          ...(spec.user ? { User: spec.user } : {}),
        });
        const stream = (await exec.start({ hijack: true, stdin: Boolean(spec.stdin) })) as unknown as NodeJS.ReadWriteStream & { destroy(err?: Error): void };
        const demux = new ExecDemux();
        const collected: Buffer[] = [];
        const sink = spec.stdout;
        const onAbort = (): void => stream.destroy(new MstingError('INTERRUPTED', 'interrupted'));
        spec.signal?.addEventListener('abort', onAbort, { once: true });
        try {
          const output = new Promise<void>((resolve, reject) => {
            stream.on('error', reject);
            demux.on('error', reject);
            stream.pipe(demux);
            if (sink) {
              sink.on('error', reject);
              demux.pipe(sink, { end: false });
              demux.on('end', resolve);
            } else {
              demux.on('data', (b: Buffer) => collected.push(b));
              demux.on('end', resolve);
            }
          });
          // Stopped while the command was starting: end it now rather than let it run to the end.
          if (spec.signal?.aborted) onAbort();
          if (spec.stdin) {
            const input = spec.stdin;
            input.on('error', (err) => stream.destroy(err));
            input.pipe(stream as unknown as Writable);
          }
          await output;
        } finally {
          spec.signal?.removeEventListener('abort', onAbort);
        }
        let info = await exec.inspect();
        // No signal here: a stop has already killed the command, and its exit code is still wanted.
        for (let i = 0; info.Running && i < 100; i++) {
          await sleep(50);
          info = await exec.inspect();
        }
        return { exitCode: info.ExitCode ?? -1, stderr: demux.stderr, stdout: Buffer.concat(collected).toString('utf8') };
      }),
    readVolume: (volume, image, signal) =>
      wrap(`reading volume ${volume}`, async (docker) => {
        const piped = await readVolumeThroughPipe(docker, volume, image, helperLabels(), signal);
        if (piped) return piped;
        // Otherwise `tar` in a helper container over the attach stream, several times faster than the
        // engine's archive endpoint; an image without tar falls back to that endpoint.
        const c = await docker.createContainer({
          Image: image,
          Entrypoint: ['sleep', '3600'],
          Cmd: [],
          User: '0',
          Labels: helperLabels(),
          NetworkDisabled: true,
          HostConfig: { Binds: [`${volume}:/volume:ro`], NetworkMode: 'none' },
        });
        const cleanup = (): void => {
          void c.remove({ force: true }).catch(() => undefined);
        };
        try {
          await c.start();
          const probe = await c.exec({ Cmd: ['tar', '--version'], AttachStdout: true, AttachStderr: true });
          const probeStream = await probe.start({ hijack: true, stdin: false });
          probeStream.resume();
          await new Promise((r) => probeStream.on('end', r));
          const hasTar = (await probe.inspect()).ExitCode === 0;
          let tar: Readable;
          if (hasTar) {
            const exec = await c.exec({ Cmd: ['tar', '-c', '-f', '-', '-C', '/volume', '.'], AttachStdout: true, AttachStderr: true });
            const raw = await exec.start({ hijack: true, stdin: false });
            const demux = new ExecDemux(async () => {
              const info = await exec.inspect();
              if (info.ExitCode !== 0) throw new MstingError('EXTERNAL', `tar of volume ${volume} failed (exit ${info.ExitCode}): ${demux.stderr.trim().split('\n').slice(-2).join(' ')}`);
            });
            raw.on('error', (err: Error) => demux.destroy(err));
            tar = raw.pipe(demux);
          } else {
            tar = (await c.getArchive({ path: '/volume/.' })) as unknown as Readable;
          }
          tar.once('close', cleanup);
          tar.once('end', cleanup);
          tar.once('error', cleanup);
          if (signal?.aborted) {
            // Stopped while the helper was starting: no reader, and no copy left running.
            tar.destroy();
            throw new MstingError('INTERRUPTED', 'interrupted');
          }
          signal?.addEventListener('abort', () => tar.destroy(new MstingError('INTERRUPTED', 'interrupted')), { once: true });
          // The demultiplexer checks tar's exit status before it ends the stream.
          return { tar, finished: Promise.resolve() };
        } catch (err) {
          cleanup();
          throw err;
        }
      }),
    writeVolume: (volume, image, tar) =>
      wrap(`writing volume ${volume}`, async (docker) => {
        const c = await helper(docker, volume, image, false);
        try {
          await c.putArchive(tar as unknown as NodeJS.ReadableStream, { path: '/volume' });
        } finally {
          await c.remove({ force: true }).catch(() => undefined);
        }
      }),
    setVolumeRoot: (volume, image, root) =>
      wrap(`setting the owner of volume ${volume}`, async (docker) => {
        const c = await docker.createContainer({
          Image: image,
          Entrypoint: ['sh', '-c', 'chown "$1" /volume && chmod "$2" /volume', 'sh', `${root.uid}:${root.gid}`, (root.mode & 0o7777).toString(8)],
          Cmd: [],
          User: '0',
          Labels: helperLabels(),
          NetworkDisabled: true,
          HostConfig: { Binds: [`${volume}:/volume`], NetworkMode: 'none' },
        });
        try {
          await c.start();
          const { StatusCode } = (await c.wait()) as { StatusCode: number };
          if (StatusCode !== 0) throw new MstingError('EXTERNAL', `setting the owner and mode of volume ${volume} failed (exit ${StatusCode})`);
        } finally {
          await c.remove({ force: true }).catch(() => undefined);
        }
      }),
    containerState: (id) =>
      wrap('inspecting a service', async (docker) => {
        try {
          const info = await docker.getContainer(id).inspect();
          return info.State.Paused ? 'paused' : info.State.Status;
        } catch (err) {
          if ((err as { statusCode?: number }).statusCode === 404) return 'missing';
          throw err;
        }
      }),
    listHelpers: () =>
      wrap('listing helper containers', async (docker) => {
        const list = await docker.listContainers({ all: true, filters: { label: [`${HELPER_LABEL}=backup`] } });
        return list.map((c) => ({ id: c.Id, owner: c.Labels[OWNER_LABEL] }));
      }),
    pause: (id) =>
      wrap('pausing a service', async (docker) => {
        // The cgroup freezer gives up when a task stays in an uninterruptible wait (disk I/O) for
        // its whole freeze attempt, and runc leaves the container running; under I/O load that is
        // transient, so a few attempts with a short wait.
        for (let attempt = 1; ; attempt++) {
          try {
            await docker.getContainer(id).pause();
            return;
          } catch (err) {
            const message = (err as { json?: { message?: string } }).json?.message ?? (err instanceof Error ? err.message : String(err));
            if (attempt >= PAUSE_ATTEMPTS || !/unable to freeze/i.test(message)) throw err;
            await sleep(pauseRetryMs * attempt);
          }
        }
      }),
    unpause: (id) => wrap('resuming a service', (docker) => docker.getContainer(id).unpause()),
    stop: (id) =>
      wrap('stopping a service', async (docker) => {
        try {
          await docker.getContainer(id).stop({ t: 30 });
        } catch (err) {
          if ((err as { statusCode?: number }).statusCode !== 304) throw err;
        }
      }),
    remove: (id) => wrap('removing a container', (docker) => docker.getContainer(id).remove({ force: true })),
    removeVolume: (name) =>
      wrap(`removing volume ${name}`, async (docker) => {
        try {
          await docker.getVolume(name).remove();
        } catch (err) {
          if ((err as { statusCode?: number }).statusCode !== 404) throw err;
        }
      }),
    createVolume: (spec) =>
      wrap(`creating volume ${spec.name}`, async (docker) => {
        await docker.createVolume({ Name: spec.name, Labels: spec.labels, Driver: spec.driver, DriverOpts: spec.options });
      }),
    imageInfo: (image) =>
      wrap(`inspecting image ${image}`, async (docker) => {
        const info = await docker.getImage(image).inspect();
        return { id: info.Id, digests: info.RepoDigests ?? [] };
      }),
    startScratch: (image) =>
      wrap(`starting a helper container of ${image}`, async (docker) => {
        const c = await docker.createContainer({
          Image: image,
          Entrypoint: ['sleep', '3600'],
          Cmd: [],
          User: 'postgres',
          Labels: helperLabels(),
          NetworkDisabled: true,
          HostConfig: { NetworkMode: 'none', AutoRemove: false },
        });
        try {
          await c.start();
        } catch (err) {
          await c.remove({ force: true }).catch(() => undefined);
          throw err;
        }
        return { id: c.id, dispose: () => c.remove({ force: true }).then(() => undefined, () => undefined) };
      }),
    rootDir: () =>
      wrap('asking Docker for its data directory', async (docker) => {
        const info = (await docker.info()) as { DockerRootDir?: string };
        return info.DockerRootDir;
      }),
  };
}

/** Labels `docker stack deploy` puts on a stack's containers and volumes. */
const STACK_LABEL = 'com.docker.stack.namespace';
const SWARM_SERVICE_LABEL = 'com.docker.swarm.service.name';

/** `<stack>_<name>` → `<name>`: a swarm stack's service or volume under its compose name. */
function stackMember(name: string | undefined, project: string): string {
  if (name === undefined) return '';
  return name.startsWith(`${project}_`) ? name.slice(project.length + 1) : name;
}
