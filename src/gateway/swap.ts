import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { MstingError } from '../errors.js';
import { writeFileAtomic } from '../files/atomic-write.js';
import type { ContainerExec } from '../docker/container-exec.js';

/** Where the gateway's config lives, on the host and as the running container sees it. */
export interface GatewayConfigTarget {
  /** The rendered file on the host (compose/config/llm-gateway/nginx.conf). */
  hostPath: string;
  /**
   * The same file inside the container. Its directory must be a bind mount of the host
   * file's directory: a bind mount of the single file keeps showing the old file after the
   * atomic rename, and is detected (the swap then stops before reloading).
   */
  containerPath: string;
  /** Id or name of the running gateway container; null when it is not running. */
  container: string | null;
}

export type GatewayApplyStatus =
  /** The file already held this config; nothing was touched. */
  | 'unchanged'
  /** No gateway was running: the file was written and is checked when the gateway starts. */
  | 'written'
  /** Checked with `nginx -t` in the running gateway, put in place, and the gateway reloaded. */
  | 'reloaded';

export interface GatewayApplyResult {
  status: GatewayApplyStatus;
  /** What `nginx -t` said about the new config (warnings included), when it ran. */
  checkOutput: string;
}

/** Steps as they happen, for a command to show progress. */
export type GatewayApplyStep = 'check' | 'write' | 'reload';

/** Env var that carries the candidate config into the container (no stdin, no archive needed). */
const CONFIG_ENV = 'MSTING_GATEWAY_CONFIG';
/** Linux refuses a single environment string over 128 KiB. */
const MAX_CONFIG_BYTES = 120 * 1024;

/**
 * Check a new gateway config with the running gateway's own nginx, then put it in place and
 * reload. The candidate is written to a temporary file inside the container and tested with
 * `nginx -t -c <tmp>` there (same binary, modules, users and host names as the real thing);
 * only when the check passes is the host file replaced (atomically) and nginx told to reload.
 * A config that fails the check never reaches the host file, and the running gateway keeps
 * serving with the config it has.
 *
 * Call it after the model services the new config names are running: nginx resolves upstream
 * host names when it loads a config, so a name that does not resolve fails the check.
 */
export async function applyGatewayConfig(
  text: string,
  target: GatewayConfigTarget,
  docker: ContainerExec,
  options: { signal?: AbortSignal; onStep?: (step: GatewayApplyStep) => void } = {},
): Promise<GatewayApplyResult> {
  const current = await readFile(target.hostPath, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw new MstingError('IO', `cannot read ${target.hostPath}: ${err.message}`, { cause: err });
  });
  if (target.container === null) {
    if (current === text) return { status: 'unchanged', checkOutput: '' };
    // Nothing runs to check it with; nginx checks it when the gateway starts.
    options.onStep?.('write');
    await writeFileAtomic(target.hostPath, text, { mode: 0o644 });
    return { status: 'written', checkOutput: '' };
  }
  if (current === text) return { status: 'unchanged', checkOutput: '' };
  const container = target.container;
  const checked = await checkInContainer(text, container, docker, options);

  throwIfAborted(options.signal);
  options.onStep?.('write');
  await writeFileAtomic(target.hostPath, text, { mode: 0o644 });

  // The container must now see exactly what was written; a single-file bind mount does not.
  const seen = await docker.exec(container, ['cat', target.containerPath], { signal: options.signal });
  if (seen.exitCode !== 0 || seen.output !== text) {
    throw new MstingError('GATEWAY_CONFIG', `The gateway container does not see the new ${target.containerPath}; it was not reloaded and keeps its current config.`, {
      hint: 'Mount the directory that holds nginx.conf (not the file alone) into the gateway, then run `msting restart llm-gateway`.',
    });
  }

  options.onStep?.('reload');
  const reload = await docker.exec(container, ['nginx', '-s', 'reload', '-c', target.containerPath], { signal: options.signal });
  if (reload.exitCode !== 0) {
    throw new MstingError('GATEWAY_CONFIG', 'nginx in the gateway container refused the reload signal.', {
      details: outputLines(reload.output),
      hint: 'The new config passed `nginx -t` and is in place; `msting restart llm-gateway` starts the gateway with it.',
    });
  }
  return { status: 'reloaded', checkOutput: checked };
}

/** `nginx -t` of `text` inside the running gateway; throws GATEWAY_CONFIG with nginx's words when it fails. */
export async function checkInContainer(
  text: string,
  container: string,
  docker: ContainerExec,
  options: { signal?: AbortSignal; onStep?: (step: GatewayApplyStep) => void } = {},
): Promise<string> {
  if (Buffer.byteLength(text) > MAX_CONFIG_BYTES) {
    throw new MstingError('GATEWAY_CONFIG', `The gateway config is larger than ${MAX_CONFIG_BYTES / 1024} KiB; it cannot be checked in the container.`, {
      hint: 'Fewer models or replicas in llm.models make it smaller.',
    });
  }
  throwIfAborted(options.signal);
  options.onStep?.('check');
  const tmp = `/tmp/msting-gateway-check-${randomBytes(6).toString('hex')}.conf`;
  try {
    const put = await docker.exec(container, ['sh', '-c', `umask 022 && printf '%s' "$${CONFIG_ENV}" > "$1"`, 'sh', tmp], {
      env: { [CONFIG_ENV]: text },
      signal: options.signal,
    });
    if (put.exitCode !== 0) {
      throw new MstingError('GATEWAY_CONFIG', `Could not write the new config to ${tmp} in the gateway container.`, {
        details: outputLines(put.output),
        hint: 'The gateway needs a writable /tmp (a tmpfs in the rendered compose file).',
      });
    }
    const test = await docker.exec(container, ['nginx', '-t', '-c', tmp], { signal: options.signal });
    if (test.exitCode !== 0) {
      // nginx resolves upstream names when it loads a config; a stopped model service has no name.
      const missing = /host not found in upstream "([A-Za-z0-9._-]+):\d+"/.exec(test.output)?.[1];
      throw new MstingError('GATEWAY_CONFIG', 'The new LLM gateway config failed `nginx -t`; it was not put in place and the running gateway keeps its current config.', {
        details: outputLines(test.output),
        ...(missing === undefined
          ? {}
          : { hint: `The model service ${missing} is not running, so its name does not resolve: run \`msting start ${missing}\`, then apply the config again.` }),
      });
    }
    return test.output;
  } finally {
    await docker.exec(container, ['rm', '-f', tmp]).catch(() => undefined);
  }
}

function outputLines(output: string): string[] {
  return output
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l !== '');
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new MstingError('INTERRUPTED', 'Interrupted; the gateway config was not changed.');
}
