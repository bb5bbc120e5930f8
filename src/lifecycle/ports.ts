import { compareText } from '../compare.js';
import { createServer } from 'node:net';
import type { ContainerInfo, PublishedPort } from '../docker/engine.js';
import type { PortPlan, StackPlan } from '../stack/plan.js';

/**
 * `check-ports`, also run before every start: host ports two services claim, and host ports
 * something else already holds (tried by binding on the configured address). Ports this
 * project's own containers publish are theirs, not conflicts. Each conflict names the config
 * key to change.
 */

export type ConflictReason = 'duplicate' | 'in-use' | 'address-unavailable';

export interface PortClaim {
  service: string;
  key: string;
  hostIp: string;
  port: number;
}

export interface PortConflict {
  reason: ConflictReason;
  port: number;
  host_ip: string;
  /** Config keys to change, e.g. ["ports.db"] (for a duplicate, every key that claims it). */
  keys: string[];
  services: string[];
  /** What holds the port, when known (another project's container). */
  held_by: string | null;
  message: string;
}

export interface PortReport {
  ok: boolean;
  checked: { service: string; key: string; host_ip: string; port: number }[];
  conflicts: PortConflict[];
}

export function portClaims(plan: Pick<StackPlan, 'services'>): PortClaim[] {
  return plan.services
    .flatMap((s) => s.ports.map((p: PortPlan) => ({ service: s.name, key: `ports.${p.key}`, hostIp: p.hostIp, port: p.published })))
    .sort((a, b) => a.port - b.port || compareText(a.key, b.key));
}

const ANY = new Set(['0.0.0.0', '::', '']);

/** Two bindings collide when the port is equal and either address covers the other. */
function overlaps(a: string, b: string): boolean {
  return a === b || ANY.has(a) || ANY.has(b);
}

/** Claims that collide with each other (pure). */
export function findDuplicates(claims: readonly PortClaim[]): PortConflict[] {
  const conflicts: PortConflict[] = [];
  const seen = new Set<number>();
  for (let i = 0; i < claims.length; i++) {
    const a = claims[i]!;
    if (seen.has(i)) continue;
    const group = [a];
    for (let j = i + 1; j < claims.length; j++) {
      const b = claims[j]!;
      if (b.port === a.port && overlaps(a.hostIp, b.hostIp) && b.key !== a.key) {
        group.push(b);
        seen.add(j);
      }
    }
    if (group.length > 1) {
      const keys = group.map((c) => c.key);
      conflicts.push({
        reason: 'duplicate',
        port: a.port,
        host_ip: a.hostIp,
        keys,
        services: [...new Set(group.map((c) => c.service))],
        held_by: null,
        message: `${keys.join(' and ')} both use host port ${a.port}: give one of them another port (msting config set ${keys[1]} <port>)`,
      });
    }
  }
  return conflicts;
}

export type BindResult = 'free' | 'in-use' | 'address-unavailable' | 'not-permitted';

/** Try to listen on the address and port, then let go at once. */
export function tryBind(hostIp: string, port: number): Promise<BindResult> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') resolve('in-use');
      else if (err.code === 'EADDRNOTAVAIL' || err.code === 'EAFNOSUPPORT') resolve('address-unavailable');
      // Privileged ports: the engine binds them as root, so msting being unprivileged is no conflict.
      else if (err.code === 'EACCES' || err.code === 'EPERM') resolve('not-permitted');
      else resolve('in-use');
    });
    server.listen({ host: hostIp, port, exclusive: true }, () => server.close(() => resolve('free')));
  });
}

function publishes(ports: readonly PublishedPort[], claim: PortClaim): boolean {
  return ports.some((p) => p.hostPort === claim.port && overlaps(p.hostIp, claim.hostIp));
}

export interface PortCheckInput {
  plan: Pick<StackPlan, 'services'>;
  /** This project's containers: the ports they publish are expected to be held. */
  ownContainers: readonly ContainerInfo[];
  /** Running containers of other projects, to name what holds a port. */
  otherContainers: readonly ContainerInfo[];
  /** False when the engine runs on another host (DOCKER_HOST=tcp://...): binding here proves nothing. */
  bindLocally: boolean;
  bind?: (hostIp: string, port: number) => Promise<BindResult>;
}

export async function checkPorts(input: PortCheckInput): Promise<PortReport> {
  const claims = portClaims(input.plan);
  const conflicts = findDuplicates(claims);
  const duplicateKeys = new Set(conflicts.flatMap((c) => c.keys));
  const bind = input.bind ?? tryBind;
  if (input.bindLocally) {
    const results = await Promise.all(
      claims.map(async (claim) => {
        if (duplicateKeys.has(claim.key)) return undefined;
        const own = input.ownContainers.find((c) => c.service === claim.service && c.state === 'running' && publishes(c.ports, claim));
        if (own) return undefined;
        return { claim, result: await bind(claim.hostIp, claim.port) };
      }),
    );
    for (const entry of results) {
      if (!entry || entry.result === 'free' || entry.result === 'not-permitted') continue;
      const { claim, result } = entry;
      if (result === 'address-unavailable') {
        conflicts.push({
          reason: 'address-unavailable',
          port: claim.port,
          host_ip: claim.hostIp,
          keys: [claim.key],
          services: [claim.service],
          held_by: null,
          message: `${claim.key}: address ${claim.hostIp} is not an address of this host (set network.bind_address or network.public_bind_address)`,
        });
        continue;
      }
      const holder = input.otherContainers.find((c) => publishes(c.ports, claim)) ?? input.ownContainers.find((c) => c.service !== claim.service && publishes(c.ports, claim));
      const heldBy = holder ? `container ${holder.name}${holder.labels['com.docker.compose.project'] ? ` (compose project ${holder.labels['com.docker.compose.project']})` : ''}` : null;
      conflicts.push({
        reason: 'in-use',
        port: claim.port,
        host_ip: claim.hostIp,
        keys: [claim.key],
        services: [claim.service],
        held_by: heldBy,
        message: `host port ${claim.port} (${claim.key}, for ${claim.service}) is already in use${heldBy ? ` by ${heldBy}` : ''}: stop what holds it, or choose another port (msting config set ${claim.key} <port>)`,
      });
    }
  }
  conflicts.sort((a, b) => a.port - b.port || compareText(a.keys[0]!, b.keys[0]!));
  return {
    ok: conflicts.length === 0,
    checked: claims.map((c) => ({ service: c.service, key: c.key, host_ip: c.hostIp, port: c.port })),
    conflicts,
  };
}
