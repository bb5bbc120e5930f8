import { MstingError } from '../errors.js';

/**
 * What a registry said when an image could not be pulled or pushed, translated once into one
 * msting error with a hint. The docker CLI and compose print the registry's answer as text
 * ("dial tcp …: connect: connection refused", "no basic auth credentials", "manifest unknown");
 * these functions are pure, so every wording is covered by unit tests.
 */

export interface ImageReference {
  /** `127.0.0.1:5000`, `ghcr.io`, or `docker.io` when the reference names none. */
  registry: string;
  /** The path inside the registry (`alphabytez/sting-ce-app`; `library/postgres` on Docker Hub). */
  repository: string;
  tag: string | undefined;
  digest: string | undefined;
}

/** Split an image reference as the Docker engine reads it. */
export function parseReference(reference: string): ImageReference {
  let rest = reference;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  const slash = rest.indexOf('/');
  const first = slash >= 0 ? rest.slice(0, slash) : '';
  if (slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    return { registry: first, repository: rest.slice(slash + 1), tag, digest };
  }
  return { registry: 'docker.io', repository: slash >= 0 ? rest : `library/${rest}`, tag, digest };
}

/** `images.registry` (host[:port] and a path) → the host part a `docker login` names. */
export function registryHost(registry: string): string {
  return registry.replace(/\/+$/, '').split('/')[0]!;
}

export type RegistryProblem = 'unreachable' | 'unauthorized' | 'denied' | 'not-found' | 'http-to-https' | 'certificate';

/** Which problem a registry's answer (as docker or compose printed it) names; undefined when none of them. */
export function classifyRegistryText(text: string): RegistryProblem | undefined {
  if (/server gave HTTP response to HTTPS client/i.test(text)) return 'http-to-https';
  if (/x509:|certificate signed by unknown authority|certificate is not valid|tls: failed to verify/i.test(text)) return 'certificate';
  // Docker Hub answers a repository that does not exist as it answers one that needs a login.
  if (/pull access denied|repository does not exist or may require/i.test(text)) return 'denied';
  if (/no basic auth credentials|unauthorized|authentication required|denied: requested access|access to the requested resource is not authorized|\b401\b/i.test(text)) return 'unauthorized';
  if (/manifest unknown|not found: manifest|name unknown|repository does not exist|manifest for \S+ not found/i.test(text)) return 'not-found';
  if (/connection refused|no such host|dial tcp|i\/o timeout|TLS handshake timeout|network is unreachable|no route to host|connection reset|Client\.Timeout|EOF$/im.test(text)) return 'unreachable';
  return undefined;
}

/** The digest a "manifest for REF@sha256:… not found" line names, with the reference. */
export function missingDigest(text: string): { reference: string; digest: string } | undefined {
  const m = /manifest for (\S+)@(sha256:[a-f0-9]{64}) not found/i.exec(text);
  return m ? { reference: m[1]!, digest: m[2]! } : undefined;
}

export interface RegistryFailure {
  /** What was asked of the registry. */
  action: 'pull' | 'push';
  /** The image reference, as docker was given it. */
  reference: string;
  /** The service whose image it is, when known. */
  service?: string | undefined;
  /** docker's or compose's own words (the last lines are kept as details). */
  text: string;
}

function serviceOf(failure: Pick<RegistryFailure, 'service'>): string {
  return failure.service ? ` (${failure.service})` : '';
}

/**
 * One error for a failed pull or push: exit 5, a message naming the registry and the image, a
 * hint saying what to do. A digest pin the registry does not serve is `digestMismatchError`.
 */
export function registryError(failure: RegistryFailure): MstingError {
  const ref = parseReference(failure.reference);
  const host = ref.registry;
  const details = failure.text.split('\n').map((l) => l.trim()).filter(Boolean).slice(-6);
  const verb = failure.action === 'pull' ? 'pull' : 'push';
  const image = `${failure.reference}${serviceOf(failure)}`;
  const make = (message: string, hint: string) => new MstingError('EXTERNAL', message, { details, hint });
  switch (classifyRegistryText(failure.text)) {
    case 'unreachable':
      return make(
        `cannot ${verb} ${image}: the registry ${host} does not answer`,
        failure.action === 'pull'
          ? `check images.registry in config.yml and that the registry is running (\`curl http://${host}/v2/\` should answer)`
          : `check the --registry address and that the registry is running (\`curl http://${host}/v2/\` should answer)`,
      );
    case 'unauthorized':
      return make(
        `cannot ${verb} ${image}: the registry ${host} wants credentials (401 unauthorized)`,
        `log in on this host with \`docker login ${host}\` (msting uses the Docker engine's credentials), then run the command again`,
      );
    case 'denied':
      return make(
        `cannot ${verb} ${image}: ${host} has no such repository, or wants credentials for it`,
        `check the image name (images.overrides.<service>), or log in with \`docker login${host === 'docker.io' ? '' : ` ${host}`}\``,
      );
    case 'not-found':
      return make(
        `cannot ${verb} ${image}: the registry ${host} has no ${ref.repository}${ref.digest ? `@${ref.digest}` : `:${ref.tag ?? 'latest'}`}`,
        ref.registry === 'docker.io'
          ? 'check the image name in images.overrides, or load the image (docker load) and name it there'
          : `check images.registry and images.version in config.yml, or push the images from the build host: msting images push --registry ${host}/${ref.repository.split('/').slice(0, -1).join('/') || '<path>'}`,
      );
    case 'http-to-https':
      return make(
        `cannot ${verb} ${image}: the registry ${host} speaks plain HTTP and the Docker engine asked for HTTPS`,
        `serve the registry over TLS, or add "${host}" to "insecure-registries" in the Docker engine's daemon.json and restart it (loopback registries need neither)`,
      );
    case 'certificate':
      return make(
        `cannot ${verb} ${image}: the Docker engine does not trust the certificate of ${host}`,
        `put the registry's CA certificate in /etc/docker/certs.d/${host}/ca.crt on this host, then run the command again`,
      );
    default:
      return make(`docker ${verb} of ${image} failed`, 'run again with --verbose to see docker\'s own output');
  }
}

/**
 * A digest pin (`images.digests.<service>`) the registry does not serve: the service, the pinned
 * digest and, when the registry told us, the digest its tag points at now.
 */
export function digestMismatchError(options: { service: string | undefined; reference: string; pinned: string; served: string | null; text: string }): MstingError {
  const ref = parseReference(options.reference);
  const named = `${ref.registry}/${ref.repository}:${ref.tag ?? 'latest'}`;
  const key = options.service ? `images.digests.${options.service}` : 'the digest pin';
  const has = options.served ? `the registry serves ${options.served} for ${named}` : `the registry has no manifest with that digest in ${ref.registry}/${ref.repository}`;
  return new MstingError('EXTERNAL', `${key} pins ${options.pinned}, but ${has}`, {
    details: options.text.split('\n').map((l) => l.trim()).filter(Boolean).slice(-3),
    hint: options.served
      ? `if ${named} is the image you mean, set ${key}: ${options.served} (or remove the pin)`
      : `check ${key} against the build host's \`msting images push\` output, or remove the pin`,
  });
}

/**
 * The services compose says it could not pull, with its words: `docker compose pull` prints one
 * ` SERVICE Error MESSAGE` line per failed service (a progress glyph may come first on a terminal).
 */
export function failedPulls(output: string): { service: string; text: string }[] {
  const out: { service: string; text: string }[] = [];
  for (const line of output.split(/\r?\n/)) {
    const m = /^\s*(?:[^\w\s]\s+)?([a-z0-9][a-z0-9_.-]*)\s+Error\s+(.+)$/i.exec(line);
    if (m && m[1] !== 'response') out.push({ service: m[1]!, text: m[2]!.trim() });
  }
  return out;
}
