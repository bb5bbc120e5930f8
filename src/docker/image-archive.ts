import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import { MstingError } from '../errors.js';
import type { EngineEndpoint } from './endpoint.js';
import { EngineStatusError, baseOptions, engineGet } from './engine-http.js';
import { translateEngineError } from './errors.js';

/**
 * Images as one archive: `docker save` of several images into a single stream (each layer once,
 * however many images share it) and `docker load` of such a stream, through the Engine API
 * (GET /images/get, POST /images/load). Used by the offline bundle (src/bundle/).
 */
export interface ImageArchive {
  /** Id and size (bytes, uncompressed) of an image on this machine; null when it is not here. */
  inspect(reference: string): Promise<{ id: string; size: number } | null>;
  /** One `docker save` stream of all the images, tagged as named. Nothing is buffered: read it at your pace. */
  save(references: readonly string[], signal: AbortSignal): Promise<Readable>;
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

export function createImageArchive(endpoint: EngineEndpoint): ImageArchive {
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

    save(references, signal) {
      if (endpoint.kind === 'ssh') return Promise.reject(sshUnsupported(endpoint));
      const query = references.map((r) => `names=${encodeURIComponent(r)}`).join('&');
      return new Promise<Readable>((resolve, reject) => {
        const req = send(endpoint, { method: 'GET', path: `/images/get?${query}`, signal });
        req.on('response', (res) => {
          if ((res.statusCode ?? 0) >= 400) {
            void errorBody(res).then((e) => reject(translateEngineError(endpoint, 'save images', e)), reject);
            return;
          }
          // A save that breaks off (the engine stopped, the socket closed) fails the reader.
          res.on('aborted', () => res.destroy(translateEngineError(endpoint, { while: 'saving images' }, Object.assign(new Error('the engine closed the connection'), { code: 'ECONNRESET' }))));
          resolve(res);
        });
        req.on('error', (err) => reject(signal.aborted ? interrupted() : translateEngineError(endpoint, 'save images', err)));
        req.end();
      });
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
