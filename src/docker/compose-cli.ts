import { execa } from 'execa';
import { MstingError } from '../errors.js';
import { runDocker } from './cli.js';
import { pullError } from './registry.js';
import { failedPulls } from './registry-errors.js';

/**
 * The Docker Compose v2 CLI (`docker compose`), run through execa: no shell, arguments as an
 * array, the environment of the msting process (DOCKER_HOST included). msting uses it to
 * create what the rendered compose file describes; watching and starting go through the
 * engine adapter (./engine.ts).
 */

export interface ComposeProject {
  /** The compose project name (`project.name` in config.yml). */
  name: string;
  /** Compose files in order: the rendered file, then the user's override file when present. */
  files: string[];
  /** Compose profile to enable. */
  profile: string;
}

export interface ComposeRunOptions {
  signal?: AbortSignal | undefined;
  /** Each line compose prints (progress), for a caller that shows it under --verbose. */
  onLine?: ((line: string) => void) | undefined;
}

export interface ComposeCli {
  /** `docker compose version`; throws COMPOSE_MISSING (exit 4) when the plugin is absent or only v1 is installed. */
  version(): Promise<string>;
  /**
   * Create the services' networks, volumes and containers without starting them; a container
   * whose configuration changed is recreated, an unchanged one (running or not) is kept.
   */
  create(project: ComposeProject, services: string[], options?: ComposeRunOptions): Promise<void>;
  /**
   * Pull the images of these services. A failure is one error naming the service, the registry
   * and what to do (docker/registry-errors.ts); `images` (service → reference) lets it name the image.
   */
  pull(project: ComposeProject, services: string[], options?: ComposeRunOptions & { images?: Readonly<Record<string, string>> }): Promise<void>;
}

/** Arguments shared by every project command: name, files, profile. */
export function projectArgs(project: ComposeProject): string[] {
  return ['compose', '-p', project.name, ...project.files.flatMap((f) => ['-f', f]), '--profile', project.profile];
}

/** `2.26.1-4`, `v2.29.0`, `2.3.3+azure-1` → major version, or undefined when unreadable. */
export function composeMajor(version: string): number | undefined {
  const match = /^v?(\d+)\./.exec(version.trim());
  return match ? Number(match[1]) : undefined;
}

const INSTALL_HINT =
  'install the Docker Compose v2 plugin (Debian/Ubuntu: apt-get install docker-compose-plugin from Docker\'s repository; Docker Desktop includes it), then check with `docker compose version`';

interface Failure {
  exitCode?: number | undefined;
  stderr?: unknown;
  stdout?: unknown;
  code?: string | undefined;
  isCanceled?: boolean;
  isTerminated?: boolean;
}

/** Compose's own error output turned into one msting error. */
export function composeFailure(what: string, failure: Failure): MstingError {
  if (failure.code === 'ENOENT') {
    return new MstingError('COMPOSE_MISSING', 'the docker command-line tool is not installed (docker was not found on PATH)', { hint: INSTALL_HINT });
  }
  const text = String(failure.stderr ?? '').trim() || String(failure.stdout ?? '').trim();
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean);
  if (/permission denied.*docker\.sock|permission denied while trying to connect/i.test(text)) {
    return new MstingError('DOCKER_PERMISSION', 'permission denied on the Docker socket', {
      hint: 'add your user to the docker group (sudo usermod -aG docker "$USER", then log in again), or run msting with sudo',
    });
  }
  if (/Cannot connect to the Docker daemon|Is the docker daemon running|error during connect/i.test(text)) {
    return new MstingError('DOCKER_UNAVAILABLE', 'the Docker engine is not running', {
      hint: 'start Docker (sudo systemctl start docker, or open Docker Desktop), or point DOCKER_HOST at a running engine',
    });
  }
  if (/pull access denied|manifest unknown|not found: manifest|no such host|dial tcp|TLS handshake timeout|i\/o timeout/i.test(text)) {
    return new MstingError('EXTERNAL', `docker compose ${what} failed: an image could not be pulled`, {
      details: lines.slice(-10),
      hint: 'without registry access, load the images (docker load) and name them in config.yml: images.overrides.<service>: <image>',
    });
  }
  return new MstingError('EXTERNAL', `docker compose ${what} failed${failure.exitCode !== undefined ? ` (exit ${failure.exitCode})` : ''}`, {
    details: lines.slice(-15),
    hint: 'run again with --verbose; `msting config render` shows the compose file that was used',
  });
}

export function createComposeCli(env: NodeJS.ProcessEnv, cwd: string): ComposeCli {
  const run = async (what: string, args: string[], options: ComposeRunOptions = {}): Promise<string> => {
    const result = await runDocker(args, { env, cwd, signal: options.signal, onLine: options.onLine });
    if (result.canceled) throw new MstingError('INTERRUPTED', 'interrupted', { hint: 'run the same command again to pick up where it stopped' });
    if (result.failed) throw composeFailure(what, result);
    return result.stdout;
  };

  return {
    async version() {
      let out: string;
      try {
        out = (await run('version', ['compose', 'version', '--short'])).trim();
      } catch (err) {
        if (err instanceof MstingError && err.code === 'EXTERNAL') {
          // No v2 plugin. Say so, and name a v1 binary if that is what the machine has.
          const v1 = await execa('docker-compose', ['version', '--short'], { env, extendEnv: false, reject: false, stdin: 'ignore' });
          if (!v1.failed && String(v1.stdout).trim()) {
            throw new MstingError('COMPOSE_MISSING', `only Docker Compose v1 (docker-compose ${String(v1.stdout).trim()}) is installed; msting needs Compose v2 (\`docker compose\`)`, {
              hint: INSTALL_HINT,
            });
          }
          throw new MstingError('COMPOSE_MISSING', 'Docker Compose v2 is not installed (`docker compose` is not a docker command here)', { hint: INSTALL_HINT });
        }
        throw err;
      }
      const major = composeMajor(out);
      if (major === undefined || major < 2) {
        throw new MstingError('COMPOSE_MISSING', `Docker Compose ${out || '(unknown version)'} is too old; msting needs Compose v2`, { hint: INSTALL_HINT });
      }
      return out.replace(/^v/, '');
    },

    async create(project, services, options) {
      if (services.length === 0) return;
      await run('up --no-start', [...projectArgs(project), 'up', '--no-start', '--no-deps', '--pull', 'missing', ...services], options);
    },

    async pull(project, services, options = {}) {
      if (services.length === 0) return;
      const result = await runDocker([...projectArgs(project), 'pull', ...services], { env, cwd, signal: options.signal, onLine: options.onLine });
      if (result.canceled) throw new MstingError('INTERRUPTED', 'interrupted while pulling images', { hint: 'run the same command again to pick up where it stopped' });
      if (!result.failed) return;
      const problems = await pullProblems(result.all, options.images ?? {});
      if (problems.length > 0) throw oneError(problems);
      throw composeFailure('pull', result);
    },
  };
}

/** An image compose could not pull: its service and reference, compose's words, and the error they mean. */
export interface PullProblem {
  service: string;
  reference: string;
  text: string;
  error: MstingError;
}

async function pullProblems(output: string, images: Readonly<Record<string, string>>): Promise<PullProblem[]> {
  return Promise.all(
    failedPulls(output).map(async ({ service, text }) => {
      const reference = images[service] ?? service;
      return { service, reference, text, error: await pullError(reference, service, text) };
    }),
  );
}

/** Several failed pulls as one error: the first one's message and hint, each failure a line. */
export function oneError(problems: readonly PullProblem[]): MstingError {
  const first = problems[0]!.error;
  if (problems.length === 1) return first;
  return new MstingError(first.code, `${first.message} (and ${problems.length - 1} more image${problems.length === 2 ? '' : 's'})`, {
    hint: first.hint,
    details: problems.map((p) => `${p.service} (${p.reference}): ${p.text}`),
  });
}

/**
 * `docker compose pull --ignore-pull-failures` for these services: what can be pulled is, the
 * rest keeps its local copy. Returns what could not be pulled, each with the error it means
 * (the caller decides which are fatal); `images` is service → reference.
 */
export async function pullAvailable(
  project: ComposeProject,
  services: string[],
  options: { env: NodeJS.ProcessEnv; cwd: string; signal: AbortSignal; images: Readonly<Record<string, string>>; onLine?: ((line: string) => void) | undefined },
): Promise<PullProblem[]> {
  if (services.length === 0) return [];
  const result = await runDocker([...projectArgs(project), 'pull', '--ignore-pull-failures', ...services], { env: options.env, cwd: options.cwd, signal: options.signal });
  if (result.canceled) throw new MstingError('INTERRUPTED', 'interrupted while pulling images', { hint: 'run `msting update` again; nothing was recreated yet' });
  const lines = result.all.split(/\r?\n/).filter((l) => l.trim());
  for (const l of lines) options.onLine?.(l);
  if (result.failed) throw composeFailure('pull', result);
  return pullProblems(result.all, options.images);
}
