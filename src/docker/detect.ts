import { createComposeCli, type ComposeCli } from './compose-cli.js';
import { createDockerEngine, type DockerEngine } from './engine.js';

/**
 * The check every Docker command runs before it touches anything: the engine answers
 * (DOCKER_HOST or the default socket) and, for commands that create containers, Compose v2 is
 * installed. Each failure is its own MstingError with a hint and exit code 4: engine down,
 * permission denied on the socket, compose missing, compose v1 only.
 */

export interface DockerSetup {
  engine: DockerEngine;
  compose: ComposeCli;
  engineVersion: string;
  /** Null when the command did not need compose. */
  composeVersion: string | null;
}

export interface DetectOptions {
  env: NodeJS.ProcessEnv;
  /** Working directory for compose (the install directory). */
  cwd: string;
  needCompose: boolean;
}

export async function detectDocker(options: DetectOptions): Promise<DockerSetup> {
  const engine = createDockerEngine(options.env);
  const compose = createComposeCli(options.env, options.cwd);
  // Both checks at once; the engine's answer is reported first, since compose needs it anyway.
  const [ping, version] = await Promise.allSettled([engine.ping(), options.needCompose ? compose.version() : Promise.resolve(null)]);
  if (ping.status === 'rejected') throw ping.reason;
  if (version.status === 'rejected') throw version.reason;
  return { engine, compose, engineVersion: ping.value.version, composeVersion: version.value };
}
