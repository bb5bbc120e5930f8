import { MstingError } from '../errors.js';
import { runDocker } from './cli.js';
import { engineGet } from './engine-http.js';
import type { DockerEngine } from './engine.js';
import { translateEngineError } from './errors.js';
import { digestMismatchError, parseReference, registryError } from './registry-errors.js';

/**
 * The registry side of images: pushing an image (`docker push`), and asking a registry which
 * digest a tag points at (its HTTP API, `HEAD /v2/<name>/manifests/<tag>`) so that a digest pin
 * that does not match can say what the registry has. Failures are worded by registry-errors.ts.
 */

const MANIFEST_TYPES = [
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
].join(', ');

function isLoopback(host: string): boolean {
  const name = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return name === 'localhost' || name === '::1' || /^127\./.test(name);
}

/**
 * The digest a registry serves for `reference`'s tag, or null when it cannot say (it wants
 * credentials, does not answer within 5 s, or is Docker Hub, whose token dance is not worth a
 * message). Plain HTTP for loopback registries, as the Docker engine itself allows; HTTPS otherwise.
 */
export async function servedDigest(reference: string): Promise<string | null> {
  const ref = parseReference(reference);
  if (ref.registry === 'docker.io') return null;
  const scheme = isLoopback(ref.registry) ? 'http' : 'https';
  try {
    const res = await fetch(`${scheme}://${ref.registry}/v2/${ref.repository}/manifests/${ref.tag ?? 'latest'}`, {
      method: 'HEAD',
      headers: { accept: MANIFEST_TYPES },
      signal: AbortSignal.timeout(5000),
    });
    const digest = res.headers.get('docker-content-digest');
    return res.ok && digest && /^sha256:[a-f0-9]{64}$/.test(digest) ? digest : null;
  } catch {
    return null;
  }
}

/** The error for an image that could not be pulled: a digest pin the registry lacks, or what registryError says. */
export async function pullError(reference: string, service: string | undefined, text: string): Promise<MstingError> {
  const ref = parseReference(reference);
  if (ref.digest && /manifest unknown|not found/i.test(text)) {
    return digestMismatchError({ service, reference, pinned: ref.digest, served: await servedDigest(reference), text });
  }
  return registryError({ action: 'pull', reference, service, text });
}

export interface PushResult {
  reference: string;
  /** The digest the registry stored it under (`TAG: digest: sha256:… size: N`). */
  digest: string | null;
}

/**
 * `docker tag SOURCE TARGET` then `docker push TARGET`, docker's output passed on line by line.
 * A failure is one msting error (registryError), exit 5.
 */
export async function pushImage(
  source: string,
  target: string,
  options: { env: NodeJS.ProcessEnv; signal?: AbortSignal | undefined; onLine?: ((line: string) => void) | undefined; service?: string | undefined },
): Promise<PushResult> {
  // A tag this push adds is taken away again if the push fails: a refused push leaves no trace.
  const added = source !== target && (await runDocker(['image', 'inspect', '--format', '{{.Id}}', target], { env: options.env })).failed;
  if (source !== target) {
    const tagged = await runDocker(['tag', source, target], { env: options.env, signal: options.signal });
    if (tagged.canceled) throw new MstingError('INTERRUPTED', 'interrupted', { hint: 'run the same command again' });
    if (tagged.failed) throw new MstingError('EXTERNAL', `docker tag ${source} ${target} failed: ${tagged.stderr.trim()}`, { hint: 'run again with --verbose' });
  }
  const pushed = await runDocker(['push', target], { env: options.env, signal: options.signal, onLine: options.onLine });
  if (pushed.canceled) throw new MstingError('INTERRUPTED', 'interrupted during a push', { hint: 'run the same command again: layers already pushed are not sent twice' });
  if (pushed.failed) {
    if (added) await runDocker(['rmi', target], { env: options.env });
    throw registryError({ action: 'push', reference: target, service: options.service, text: pushed.all });
  }
  const digest = /digest: (sha256:[a-f0-9]{64})/.exec(pushed.all)?.[1] ?? null;
  return { reference: target, digest };
}

/** What the engine knows of a local image: its id and the registry digests it was pulled or pushed as. */
export interface LocalImage {
  id: string;
  /** `name@sha256:…` entries. */
  repoDigests: string[];
}

/** `GET /images/<ref>/json`: the local image a reference names, or null when it is not here. */
export async function inspectLocalImage(engine: Pick<DockerEngine, 'endpoint'>, reference: string): Promise<LocalImage | null> {
  try {
    const { body } = await engineGet(engine.endpoint, `/images/${reference.split('/').map(encodeURIComponent).join('/')}/json`, { timeoutMs: 15_000 });
    const image = body as { Id?: string; RepoDigests?: string[] };
    return { id: image.Id ?? '', repoDigests: image.RepoDigests ?? [] };
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return null;
    throw translateEngineError(engine.endpoint, 'inspect image', err);
  }
}
