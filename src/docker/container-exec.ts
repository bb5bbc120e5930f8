import { lazyDockerode } from './client.js';
import { FrameSplitter } from './demux.js';
import { resolveEndpoint } from './endpoint.js';
import { translateEngineError } from './errors.js';

/** The outcome of one command run inside a container, stdout and stderr as one text (the backup engine's ExecResult keeps them apart). */
export interface ExecOutput {
  exitCode: number;
  /** stdout and stderr together, in the order the engine delivered them. */
  output: string;
}

/** Running commands in a container: what the gateway's check-then-swap needs of Docker. */
export interface ContainerExec {
  /**
   * Run `argv` (no shell) in the running container `container` (id or name) and wait for it.
   * `env` adds variables for this command only. Engine failures throw MstingError; a command
   * that runs and fails is a result with its exit code, not an exception.
   */
  exec(container: string, argv: string[], options?: { env?: Record<string, string>; signal?: AbortSignal }): Promise<ExecOutput>;
}

/** ContainerExec over the Docker engine the environment names (DOCKER_HOST or the local socket). */
export function createContainerExec(env: NodeJS.ProcessEnv): ContainerExec {
  const endpoint = resolveEndpoint(env);
  const docker = lazyDockerode(endpoint);

  return {
    async exec(container, argv, options = {}) {
      try {
        const d = await docker();
        const exec = await d.getContainer(container).exec({
          Cmd: argv,
          Env: Object.entries(options.env ?? {}).map(([k, v]) => `${k}=${v}`),
          AttachStdout: true,
          AttachStderr: true,
        });
        const stream = await exec.start({ hijack: true, stdin: false });
        const chunks: Buffer[] = [];
        const frames = new FrameSplitter();
        stream.on('data', (chunk: Buffer) => frames.push(chunk, (_stream, payload) => chunks.push(Buffer.from(payload))));
        await new Promise<void>((resolve, reject) => {
          const onAbort = () => {
            stream.destroy();
            reject(options.signal?.reason ?? new Error('aborted'));
          };
          if (options.signal?.aborted) return onAbort();
          options.signal?.addEventListener('abort', onAbort, { once: true });
          stream.on('end', () => resolve());
          stream.on('close', () => resolve());
          stream.on('error', reject);
        });
        const info = await exec.inspect();
        return { exitCode: info.ExitCode ?? -1, output: Buffer.concat(chunks).toString('utf8') };
      } catch (err) {
        throw translateEngineError(endpoint, `run ${argv[0] ?? 'a command'} in ${container}`, err);
      }
    },
  };
}
