import { existsSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import { MstingError } from '../errors.js';
import type { EngineEndpoint } from './endpoint.js';
import { runDocker, type DockerCliResult } from './cli.js';
import { EngineStatusError, baseOptions, engineGet } from './engine-http.js';
import { translateEngineError } from './errors.js';

/**
 * Images as one archive: `docker save` of several images into a single stream (each layer once,
 * however many images share it) and `docker load` of such a stream. Used by the offline bundle
 * (src/bundle/). Loading goes through the Engine API (POST /images/load). Saving runs the docker
 * command with its stdout on the bundle file itself: the stream goes from the engine to the disk
 * without passing through Node, whose reading, copying and collecting of 64 KiB buffers cost the
 * bundle a third of its throughput on a two-CPU host where the engine takes one CPU to produce it.
 */
export interface ImageArchive {
  /** Id and size (bytes, uncompressed) of an image on this machine; null when it is not here. */
  inspect(reference: string): Promise<{ id: string; size: number } | null>;
  /**
   * One `docker save` stream of all the images, tagged as named, written to the open file `fd`
   * (opened for appending: it lands after what the file holds). Resolves when the stream is
   * complete; the caller reads what was written from the file.
   */
  saveTo(references: readonly string[], fd: number, signal: AbortSignal): Promise<void>;
  /** `docker load` of a `docker save` stream; resolves with the images the engine loaded ("Loaded image: ..."). */
  load(source: Readable, signal: AbortSignal): Promise<string[]>;
}

/** Ctrl-C during a save or load is an interruption, not an engine failure. */
function interrupted(): MstingError {
  return new MstingError('INTERRUPTED', 'interrupted', { hint: 'run the same command again' });
}

function sshUnsupported(endpoint: EngineEndpoint): MstingError {
  return new MstingError('NOT_AVAILABLE', `saving and loading images is not available over ssh (${endpoint.display})`, {
    hint: 'run msting on the Docker host itself, or set DOCKER_HOST to its socket or a tcp:// address',
  });
}

function send(endpoint: EngineEndpoint, options: RequestOptions): ReturnType<typeof httpRequest> {
  const opts: RequestOptions = { ...baseOptions(endpoint), ...options, headers: { Host: 'docker', ...(options.headers ?? {}) } };
  return endpoint.kind === 'tcp' && endpoint.tls ? httpsRequest(opts) : httpRequest(opts);
}

async function errorBody(res: IncomingMessage): Promise<EngineStatusError> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  let json: { message?: string } | null = null;
  try {
    json = JSON.parse(text) as { message?: string };
  } catch {
    json = { message: text.trim() };
  }
  return new EngineStatusError(res.statusCode ?? 0, json);
}

/** What a failed `docker save` said, as one message (the disk filling up keeps its errno code). */
export function saveFailed(r: Pick<DockerCliResult, 'stderr' | 'exitCode'>): MstingError {
  const said = r.stderr.trim().split('\n').filter(Boolean).pop() ?? `exit code ${r.exitCode ?? 'unknown'}`;
  if (/no space left on device/i.test(said)) return new MstingError('IO', `docker save: ${said}`, { cause: Object.assign(new Error(said), { code: 'ENOSPC' }) });
  if (/quota exceeded/i.test(said)) return new MstingError('IO', `docker save: ${said}`, { cause: Object.assign(new Error(said), { code: 'EDQUOT' }) });
  return new MstingError('EXTERNAL', `Docker failed while saving images: ${said.replace(/^Error response from daemon: /, '')}`, {
    hint: 'run `docker info` to see whether the engine is healthy, and `docker image ls` for the images',
  });
}

/**
 * `env` is the environment the docker command runs with. Without DOCKER_HOST, msting talks to
 * the default socket; the command is pointed there too, not at a docker context.
 */
export function createImageArchive(endpoint: EngineEndpoint, env: NodeJS.ProcessEnv): ImageArchive {
  const cliEnv = endpoint.fromEnv ? env : { ...env, DOCKER_HOST: endpoint.display };
  return {
    async inspect(reference) {
      if (endpoint.kind === 'ssh') throw sshUnsupported(endpoint);
      try {
        const { body } = await engineGet(endpoint, `/images/${reference.split('/').map(encodeURIComponent).join('/')}/json`, { timeoutMs: 15_000 });
        const b = body as { Id?: string; Size?: number };
        return { id: b.Id ?? '', size: b.Size ?? 0 };
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode === 404) return null;
        throw translateEngineError(endpoint, 'inspect image', err);
      }
    },

    async saveTo(references, fd, signal) {
      if (endpoint.kind === 'ssh') throw sshUnsupported(endpoint);
      const r = await runDocker(['save', ...references], { env: cliEnv, signal, stdoutFd: fd });
      if (r.canceled || signal.aborted) throw interrupted();
      if (r.code === 'ENOENT') {
        throw new MstingError('PREFLIGHT', 'the docker command is not installed', { hint: 'install the Docker CLI (docs: https://docs.docker.com/engine/install/); msting runs it for `docker save`' });
      }
      // The engine gone (stopped before or during the save): the same message as every other engine call.
      if (r.failed && /Cannot connect to the Docker daemon|connection refused|no such file or directory.*docker\.sock/i.test(r.stderr)) {
        // The docker command says the same either way; whether the socket is there tells which.
        const code = endpoint.kind === 'unix' && !existsSync(endpoint.socketPath) ? 'ENOENT' : 'ECONNREFUSED';
        throw translateEngineError(endpoint, 'save images', Object.assign(new Error(r.stderr.trim()), { code }));
      }
      if (r.failed) throw saveFailed(r);
    },

    load(source, signal) {
      if (endpoint.kind === 'ssh') return Promise.reject(sshUnsupported(endpoint));
      return new Promise<string[]>((resolve, reject) => {
        const req = send(endpoint, { method: 'POST', path: '/images/load?quiet=1', headers: { 'Content-Type': 'application/x-tar' }, signal });
        let settled = false;
        const fail = (err: unknown): void => {
          if (settled) return;
          settled = true;
          source.unpipe(req);
          req.destroy();
          reject(err instanceof MstingError ? err : signal.aborted ? interrupted() : translateEngineError(endpoint, { while: 'loading images' }, err));
        };
        source.on('error', fail);
        req.on('error', fail);
        req.on('response', (res) => {
          if ((res.statusCode ?? 0) >= 400) {
            void errorBody(res).then(fail, fail);
            return;
          }
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (text += d));
          res.on('error', fail);
          res.on('end', () => {
            const loaded: string[] = [];
            for (const line of text.split('\n')) {
              if (!line.trim()) continue;
              let msg: { stream?: string; error?: string; errorDetail?: { message?: string } };
              try {
                msg = JSON.parse(line) as typeof msg;
              } catch {
                continue;
              }
              if (msg.error) return fail(new MstingError('EXTERNAL', `docker load failed: ${msg.errorDetail?.message ?? msg.error}`, { hint: 'run `msting bundle verify FILE`: the bundle may be damaged' }));
              const m = /Loaded image(?: ID)?: (\S+)/.exec(msg.stream ?? '');
              if (m) loaded.push(m[1] as string);
            }
            if (!settled) {
              settled = true;
              resolve(loaded);
            }
          });
        });
        source.pipe(req);
      });
    },
  };
}
