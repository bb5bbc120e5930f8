import { MstingError } from '../errors.js';
import type { EngineEndpoint } from './endpoint.js';

/**
 * Low-level failures talking to the engine, translated once into what the user should do.
 * Every engine call of the adapter goes through here.
 */

const START_HINT = 'start Docker (sudo systemctl start docker, or open Docker Desktop), then run the command again';

function endpointHint(endpoint: EngineEndpoint, fallback: string): string {
  return endpoint.fromEnv ? `DOCKER_HOST is set to ${endpoint.display}: point it at a running engine, or unset it to use ${'unix:///var/run/docker.sock'}` : fallback;
}

export function engineUnreachable(endpoint: EngineEndpoint, err: unknown): MstingError | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return new MstingError('DOCKER_UNAVAILABLE', `no Docker engine at ${endpoint.display}: the socket does not exist`, {
        hint: endpointHint(endpoint, START_HINT),
        cause: err,
      });
    case 'ECONNREFUSED':
    case 'ECONNRESET':
    case 'EPIPE':
      return new MstingError('DOCKER_UNAVAILABLE', `the Docker engine at ${endpoint.display} is not running (connection refused)`, {
        hint: endpointHint(endpoint, START_HINT),
        cause: err,
      });
    case 'EACCES':
    case 'EPERM':
      return new MstingError('DOCKER_PERMISSION', `permission denied on ${endpoint.display}`, {
        hint:
          endpoint.kind === 'unix'
            ? 'add your user to the docker group (sudo usermod -aG docker "$USER", then log in again), or run msting with sudo'
            : 'check the TLS certificates in DOCKER_CERT_PATH',
        cause: err,
      });
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new MstingError('DOCKER_UNAVAILABLE', `cannot reach the Docker engine at ${endpoint.display} (${code})`, {
        hint: endpointHint(endpoint, START_HINT),
        cause: err,
      });
    default:
      return undefined;
  }
}

/**
 * What was being done when the engine refused: an operation (`start container`: "Docker engine:
 * start container failed: …") or, for the long backup and restore steps, an activity
 * (`{ while: 'pausing a service' }`: "Docker failed while pausing a service: …").
 */
export type EngineActivity = string | { while: string };

/** An engine answer with an error status (dockerode's `statusCode`, or our own HTTP client's). */
export function engineRefused(what: EngineActivity, err: unknown): MstingError {
  const e = err as { statusCode?: number; json?: { message?: string } | null; reason?: string; message?: string };
  const detail = e.json?.message ?? e.reason ?? e.message ?? String(err);
  const message = typeof what === 'string' ? `Docker engine: ${what} failed: ${detail}` : `Docker failed while ${what.while}: ${detail.trim()}`;
  return new MstingError('EXTERNAL', message, {
    hint: 'run again with --verbose for details; `docker info` shows whether the engine is healthy',
    cause: err,
  });
}

export function translateEngineError(endpoint: EngineEndpoint, what: EngineActivity, err: unknown): MstingError {
  if (err instanceof MstingError) return err;
  return engineUnreachable(endpoint, err) ?? engineRefused(what, err);
}
