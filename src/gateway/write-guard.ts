import type { ContainerExec } from '../docker/container-exec.js';
import { applyGatewayConfig, checkInContainer, type GatewayApplyResult } from './swap.js';

/** Where the gateway container sees its config directory's nginx.conf (the rendered compose file mounts the directory there). */
export const GATEWAY_CONTAINER_CONFIG = '/etc/nginx/msting/nginx.conf';

/** The container facts the guard needs, from one list call of the project's containers. */
export interface GuardContainer {
  id: string;
  service: string;
  state: string;
}

export interface GatewayGuardDeps {
  /** The project's containers; an engine msting cannot reach has none running. */
  listContainers(): Promise<readonly GuardContainer[]>;
  exec: ContainerExec;
  signal?: AbortSignal | undefined;
  /** What happened to the running gateway, for the command to report. */
  onApplied?: (result: GatewayApplyResult | { status: 'checked'; checkOutput: string; notRunning: string[] }) => void;
}

/** Model services named as upstream servers (`server phi3-2:8000 ...;`); loopback servers are msting's own. */
export function upstreamHosts(text: string): string[] {
  const hosts = [...text.matchAll(/^\s*server\s+([a-z][a-z0-9-]*):\d+\b/gm)].map((m) => m[1]!);
  return [...new Set(hosts)];
}

/** The same config with the servers of `hosts` pointed at distinct loopback addresses (for a check only). */
export function withLoopbackServers(text: string, hosts: readonly string[]): string {
  let out = text;
  for (const [i, host] of hosts.entries()) {
    out = out.replace(new RegExp(`^(\\s*server\\s+)${host}(:\\d+)`, 'gm'), `$1127.0.1.${i + 1}$2`);
  }
  return out;
}

/**
 * The guard every render uses for the gateway's nginx.conf (see `WriteOptions.guards`). With no
 * gateway container running, the new file is simply written: nginx checks it when the gateway
 * starts. With one running, the new content is checked with `nginx -t` inside it first, and a
 * config that fails is refused (GATEWAY_CONFIG, nginx's own words in the details): the old file
 * stays and the gateway keeps serving with it. A config that passes is put in place and nginx
 * reloaded.
 *
 * nginx resolves upstream host names when it loads a config, so a config naming a model service
 * that does not run yet (a model just added) cannot load in the running gateway whatever its
 * quality. Such a config is checked with those servers pointed at loopback addresses (the rest
 * of the text unchanged) and, when it passes, written without a reload: the gateway keeps its
 * current config until `msting start` recreates it once those models are up.
 */
export function gatewayWriteGuard(deps: GatewayGuardDeps): (content: string, target: string) => Promise<boolean> {
  return async (content, target) => {
    const containers = await deps.listContainers();
    const gateway = containers.find((c) => c.service === 'llm-gateway' && c.state === 'running');
    if (!gateway) return false;
    const running = new Set(containers.filter((c) => c.state === 'running').map((c) => c.service));
    const notRunning = upstreamHosts(content).filter((h) => !running.has(h));
    if (notRunning.length === 0) {
      const result = await applyGatewayConfig(content, { hostPath: target, containerPath: GATEWAY_CONTAINER_CONFIG, container: gateway.id }, deps.exec, deps.signal ? { signal: deps.signal } : {});
      deps.onApplied?.(result);
      return true;
    }
    const checkOutput = await checkInContainer(withLoopbackServers(content, notRunning), gateway.id, deps.exec, deps.signal ? { signal: deps.signal } : {});
    deps.onApplied?.({ status: 'checked', checkOutput, notRunning });
    return false;
  };
}

/** One line for a command to say what the guard did to the running gateway. */
export function gatewayGuardMessage(result: Parameters<NonNullable<GatewayGuardDeps['onApplied']>>[0]): string | null {
  if (result.status === 'reloaded') return 'llm-gateway: the new config passed `nginx -t` in the running gateway and was loaded';
  if (result.status === 'checked') {
    return `llm-gateway: the new config passed \`nginx -t\` (with ${result.notRunning.join(', ')} not running yet); the gateway loads it when it is recreated`;
  }
  return null;
}
