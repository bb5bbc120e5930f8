import type { GatewayPlan, UnavailableReason } from './plan.js';

/** A replica as `status` shows it under the gateway. */
export interface GatewayServer {
  service: string;
  /** `host:port` as the gateway's upstream block names it. */
  address: string;
  /** From the container's state: 'up' when running (and healthy, if it has a health check). */
  state: 'up' | 'starting' | 'down' | 'unknown';
}

/** One model route of the gateway, for `status`. */
export interface GatewayUpstream {
  model: string;
  upstream: string;
  /** True for the model a request that names none goes to. */
  default: boolean;
  servers: GatewayServer[];
  /** Servers that can take requests now. */
  live: number;
}

export interface GatewayUpstreams {
  routes: GatewayUpstream[];
  /** Configured models the gateway answers 404 for, and why. */
  unavailable: { model: string; reason: UnavailableReason }[];
}

/** The container facts `gatewayUpstreams` needs, by compose service name. */
export type ServiceStates = ReadonlyMap<string, { running: boolean; health: 'healthy' | 'unhealthy' | 'starting' | 'none' }>;

/**
 * The gateway's upstreams joined with the state of the containers behind them. Pure: the
 * status command passes the containers it already listed. A replica is 'up' when it runs and
 * its health check (if any) passes; nginx itself keeps no state it could be asked for.
 */
export function gatewayUpstreams(plan: GatewayPlan, states?: ServiceStates): GatewayUpstreams {
  const routes = plan.routes.map((route) => {
    const servers = route.services.map((service): GatewayServer => {
      const s = states?.get(service);
      let state: GatewayServer['state'] = 'unknown';
      if (states !== undefined) {
        if (s === undefined || !s.running) state = 'down';
        else if (s.health === 'starting') state = 'starting';
        else state = s.health === 'unhealthy' ? 'down' : 'up';
      }
      return { service, address: `${service}:${route.port}`, state };
    });
    return {
      model: route.name,
      upstream: route.upstream,
      default: route.name === plan.defaultRoute,
      servers,
      live: servers.filter((s) => s.state === 'up').length,
    };
  });
  return { routes, unavailable: plan.unavailable.map((u) => ({ model: u.name, reason: u.reason })) };
}

/** One line per model for a terminal: `phi3 (default) → phi3:8000 up, phi3-2:8000 down`. */
export function formatGatewayUpstreams(upstreams: GatewayUpstreams): string[] {
  const lines = upstreams.routes.map(
    (r) => `${r.model}${r.default ? ' (default)' : ''} → ${r.servers.map((s) => (s.state === 'unknown' ? s.address : `${s.address} ${s.state}`)).join(', ')}`,
  );
  for (const u of upstreams.unavailable) lines.push(`${u.model}: not routed (${u.reason.replace(/-/g, ' ')})`);
  return lines;
}

/**
 * ServiceStates from the containers a status command already listed (the Docker adapter's
 * ContainerInfo has these fields): `gatewayUpstreams(plan, serviceStates(containers))`.
 */
export function serviceStates(containers: readonly { service: string; state: string; health: 'healthy' | 'unhealthy' | 'starting' | 'none' }[]): ServiceStates {
  return new Map(containers.map((c) => [c.service, { running: c.state === 'running', health: c.health }]));
}
