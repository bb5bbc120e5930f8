import { execa, type ResultPromise } from 'execa';
import { MstingError } from '../errors.js';

/**
 * The docker command-line tool, for the few things msting asks of it besides `docker compose`
 * (./compose-cli.ts): builds, tags, a throwaway measuring container, and psql fed on stdin. Run
 * through execa, no shell, arguments as an array, with the caller's environment (DOCKER_HOST
 * included). A failed command is a result, not an exception: each caller words its own error.
 */

export interface DockerCliResult {
  failed: boolean;
  /** True when `signal` stopped the command. */
  canceled: boolean;
  exitCode: number | undefined;
  /** `ENOENT` when docker is not installed. */
  code: string | undefined;
  stdout: string;
  stderr: string;
  /** stdout and stderr in the order they came, when `all` was asked for. */
  all: string;
}

export interface DockerCliOptions {
  env: NodeJS.ProcessEnv;
  cwd?: string | undefined;
  signal?: AbortSignal | undefined;
  timeoutMs?: number | undefined;
  /** Written to the command's stdin, then closed. Secrets go this way, never into argv. */
  input?: string | undefined;
  /** Each non-empty line of output as it comes (stdout and stderr together). */
  onLine?: ((line: string) => void) | undefined;
  /**
   * stdout goes straight to this open file descriptor, which the command inherits: its output
   * never passes through msting (`stdout` comes back empty). execa's `{ file }` would pipe it
   * through Node.
   */
  stdoutFd?: number | undefined;
}

/** Run `docker ARGS...`. Exported for `docker compose` (./compose-cli.ts); other callers use the named helpers below. */
export async function runDocker(args: string[], options: DockerCliOptions): Promise<DockerCliResult> {
  const child: ResultPromise = execa('docker', args, {
    env: options.env,
    extendEnv: false,
    reject: false,
    all: true,
    ...(options.input !== undefined ? { input: options.input } : { stdin: 'ignore' as const }),
    ...(options.cwd ? { cwd: options.cwd } : {}),
    // A descriptor number is handed to the child as is (execa's types list only 1 to 9).
    ...(options.stdoutFd !== undefined ? { stdout: options.stdoutFd as 1 } : {}),
    ...(options.signal ? { cancelSignal: options.signal } : {}),
    ...(options.timeoutMs ? { timeout: options.timeoutMs } : {}),
  });
  if (options.onLine && child.all) {
    const onLine = options.onLine;
    let rest = '';
    child.all.on('data', (chunk: Buffer) => {
      const lines = (rest + chunk.toString()).split(/\r?\n/);
      rest = lines.pop() ?? '';
      for (const line of lines) if (line.trim()) onLine(line);
    });
  }
  const r = await child;
  return {
    failed: r.failed,
    canceled: r.isCanceled,
    exitCode: r.exitCode,
    code: (r as { code?: string }).code,
    stdout: String(r.stdout ?? ''),
    stderr: String(r.stderr ?? ''),
    all: String(r.all ?? ''),
  };
}

/** `docker build -t TAG -f DOCKERFILE [--build-arg K=V...] CONTEXT`, its output passed on line by line. */
export function buildImage(spec: { tag: string; dockerfile: string; buildArgs: Record<string, string>; context: string }, options: DockerCliOptions): Promise<DockerCliResult> {
  const args = Object.entries(spec.buildArgs).flatMap(([k, v]) => ['--build-arg', `${k}=${v}`]);
  return runDocker(['build', '-t', spec.tag, '-f', spec.dockerfile, ...args, spec.context], options);
}

/** Point `reference` at the image `id` (rollback of a pulled tag). */
export async function tagImage(id: string, reference: string, env: NodeJS.ProcessEnv): Promise<void> {
  const r = await runDocker(['tag', id, reference], { env });
  if (r.failed) throw new MstingError('EXTERNAL', `docker tag ${id.slice(0, 19)} ${reference} failed: ${r.stderr.trim()}`);
}

/**
 * Run a shell script as root in a throwaway container of a local image: no network, never
 * pulled, removed at the end.
 */
export function runScratchScript(image: string, script: string, options: DockerCliOptions): Promise<DockerCliResult> {
  return runDocker(['run', '--rm', '--network', 'none', '--pull', 'never', '--entrypoint', 'sh', '--user', '0', image, '-c', script], options);
}

/** `docker exec -i CONTAINER ARGV...` with `options.input` on its stdin. */
export function execWithInput(containerId: string, argv: string[], options: DockerCliOptions & { input: string }): Promise<DockerCliResult> {
  return runDocker(['exec', '-i', containerId, ...argv], options);
}
