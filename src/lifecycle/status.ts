import type { MstingConfig } from '../config/schema.js';
import type { ContainerDetails, ContainerInfo } from '../docker/engine.js';
import { createRedactor } from '../doctor/redact.js';
import { gatewayUpstreams, serviceStates, type GatewayUpstreams } from '../gateway/upstreams.js';
import type { GatewayPlan } from '../gateway/plan.js';
import type { StackPlan } from '../stack/plan.js';
import { MAILPIT_BROWSER_PATH, derivePublicUrls } from '../stack/urls.js';

/**
 * `status`: every service of the profile, running or not, from one list call to the engine.
 * The JSON form (`StatusReport`) is a documented, stable schema (docs/lifecycle.md); its keys
 * never follow the labels people read.
 */

export const STATUS_SCHEMA_VERSION = 1;

export type ServiceRunState = 'running' | 'created' | 'restarting' | 'paused' | 'exited' | 'dead' | 'removing' | 'missing';
export type ServiceHealth = 'healthy' | 'unhealthy' | 'starting' | 'none';

export interface StatusPort {
  key: string | null;
  host_ip: string;
  host_port: number;
  container_port: number;
  protocol: string;
}

export interface ServiceStatus {
  service: string;
  /** The service is part of the profile (false: a container of the project from another profile). */
  in_profile: boolean;
  /** One-shot job (kratos-migrate): ok when it completed with exit code 0. */
  job: boolean;
  state: ServiceRunState;
  health: ServiceHealth;
  /** Whether this service counts as healthy for the exit code. */
  ok: boolean;
  container: string | null;
  image: string;
  ports: StatusPort[];
  /** The engine's uptime text ("5 minutes") while running, else null. */
  uptime: string | null;
  /** Container creation time (ISO 8601), null when there is no container. */
  created_at: string | null;
  /** Exit code of a stopped container, from its status text. */
  exit_code: number | null;
  /** Restarts by the engine's restart policy; null when not looked up (see docs/lifecycle.md). */
  restarts: number | null;
  /**
   * While the container runs and its latest health check failed: that check's output, last line
   * (a check's final error), credentials redacted (looked up with the restart count); null otherwise.
   */
  last_check: string | null;
}

export interface StatusUrls {
  frontend: string | null;
  api: string | null;
  mailpit: string | null;
  grafana: string | null;
}

/** Filled by the Vault integration; null when it was not asked. */
export interface VaultSummary {
  state: 'uninitialized' | 'sealed' | 'unsealed' | 'starting' | 'unreachable';
  /** Why unreachable or starting, the unseal progress in words, or "standby". */
  detail?: string;
  /** vault.mode: "server" or "dev". */
  mode?: 'server' | 'dev';
  /** While sealed: shares given so far in this unseal round; null otherwise. */
  progress?: number | null;
  /** Shares needed to unseal; null when Vault did not say (unreachable, uninitialized). */
  threshold?: number | null;
  /** Where msting reached Vault; null when it did not try (container not running). */
  address?: string | null;
}

export interface StatusReport {
  schema: typeof STATUS_SCHEMA_VERSION;
  project: string;
  profile: string;
  /** Every service of the profile is ok. */
  healthy: boolean;
  services: ServiceStatus[];
  vault: VaultSummary | null;
  /** The LLM gateway's model routes and the state of each replica; null when the profile has no gateway. */
  gateway: GatewayUpstreams | null;
  urls: StatusUrls;
}

/** "Up 5 minutes (healthy)" → "5 minutes"; "Exited (1) 3 seconds ago" → exit code 1. */
export function parseStatusText(text: string): { uptime: string | null; exitCode: number | null } {
  const up = /^Up\s+(.+?)(?:\s+\((?:healthy|unhealthy|health: starting|Paused)\))?$/.exec(text.trim());
  const exited = /^Exited \((-?\d+)\)/.exec(text.trim());
  return { uptime: up ? up[1]! : null, exitCode: exited ? Number(exited[1]) : null };
}

function serviceOk(job: boolean, state: ServiceRunState, health: ServiceHealth, exitCode: number | null): boolean {
  if (job) return state === 'exited' && exitCode === 0;
  return state === 'running' && (health === 'healthy' || health === 'none');
}

export function statusUrls(config: MstingConfig, services: ReadonlySet<string>): StatusUrls {
  const urls = derivePublicUrls(config);
  const local = (port: number) => {
    const bind = config.network.bind_address;
    const host = bind === '0.0.0.0' || bind === '::' ? '127.0.0.1' : bind.includes(':') ? `[${bind}]` : bind;
    return `http://${host}:${port}`;
  };
  return {
    frontend: services.has('frontend') ? urls.frontend : null,
    api: services.has('app') ? urls.api : null,
    // Mailpit serves its UI under its web root (MP_WEBROOT): through the frontend, which proxies
    // it, or on its own port when ports.mailpit-ui publishes one.
    mailpit: !services.has('mailpit')
      ? null
      : config.ports['mailpit-ui'] !== undefined
        ? `${local(config.ports['mailpit-ui'])}${MAILPIT_BROWSER_PATH}/`
        : services.has('frontend')
          ? `${urls.frontend}${MAILPIT_BROWSER_PATH}/`
          : null,
    // Grafana is reachable from the host only when ports.grafana publishes it.
    grafana: services.has('grafana') && config.ports.grafana !== undefined ? local(config.ports.grafana) : null,
  };
}

/**
 * The report, from the plan, one container list and (optionally) the details of some
 * containers — the ones the command chose to inspect for their restart count.
 */
export function buildStatus(input: {
  plan: StackPlan;
  config: MstingConfig;
  containers: readonly ContainerInfo[];
  details?: ReadonlyMap<string, ContainerDetails>;
  vault?: VaultSummary | null;
  /** The gateway's routes, planned with the stack's recommendation; null or absent without a gateway. */
  gateway?: GatewayPlan | null;
}): StatusReport {
  const { plan, containers } = input;
  const planned = new Map(plan.services.map((s) => [s.name, s]));
  const byService = new Map<string, ContainerInfo>();
  for (const c of containers) if (c.service && !byService.has(c.service)) byService.set(c.service, c);
  const names = [...new Set([...planned.keys(), ...byService.keys()])].sort();
  const services = names.map((name): ServiceStatus => {
    const spec = planned.get(name);
    const c = byService.get(name);
    const job = spec ? spec.health === null : false;
    const keyFor = (containerPort: number, hostPort: number) =>
      spec?.ports.find((p) => p.target === containerPort && p.published === hostPort)?.key ?? spec?.ports.find((p) => p.target === containerPort)?.key ?? null;
    if (!c) {
      return {
        service: name,
        in_profile: true,
        job,
        state: 'missing',
        health: 'none',
        ok: false,
        container: null,
        image: spec?.image ?? '',
        ports: (spec?.ports ?? []).map((p) => ({ key: p.key, host_ip: p.hostIp, host_port: p.published, container_port: p.target, protocol: p.protocol })),
        uptime: null,
        created_at: null,
        exit_code: null,
        restarts: null,
        last_check: null,
      };
    }
    const parsed = parseStatusText(c.statusText);
    const details = input.details?.get(c.id);
    const exitCode = details && (c.state === 'exited' || c.state === 'dead') ? details.exitCode : parsed.exitCode;
    const health = c.state === 'running' ? c.health : 'none';
    return {
      service: name,
      in_profile: planned.has(name),
      job,
      state: c.state,
      health,
      ok: serviceOk(job, c.state, health, exitCode),
      container: c.name,
      image: c.image,
      ports: c.ports.map((p) => ({ key: keyFor(p.containerPort, p.hostPort), host_ip: p.hostIp, host_port: p.hostPort, container_port: p.containerPort, protocol: p.protocol })),
      uptime: c.state === 'running' ? parsed.uptime : null,
      created_at: c.created > 0 ? new Date(c.created * 1000).toISOString() : null,
      exit_code: c.state === 'running' ? null : exitCode,
      restarts: details ? details.restartCount : null,
      last_check: c.state === 'running' && details?.lastHealthOutput ? checkLine(details.lastHealthOutput) : null,
    };
  });
  return {
    schema: STATUS_SCHEMA_VERSION,
    project: plan.project,
    profile: plan.profile,
    // A sealed (or unreachable) Vault leaves the services that read secrets unable to work.
    healthy: services.filter((s) => s.in_profile).every((s) => s.ok) && (!input.vault || input.vault.state === 'unsealed'),
    services,
    vault: input.vault ?? null,
    gateway: input.gateway ? gatewayUpstreams(input.gateway, serviceStates(containers)) : null,
    urls: statusUrls(input.config, new Set(planned.keys())),
  };
}

/** Longest last_check kept: a check's output can be a whole page. */
const CHECK_LINE_MAX = 240;

/**
 * The last non-empty line of a health check's output (where a check that tries one thing after
 * another says why the last try failed), credentials redacted, cut to CHECK_LINE_MAX.
 */
export function checkLine(output: string): string {
  const last = output.split('\n').map((l) => l.trim()).filter((l) => l !== '').at(-1) ?? '';
  const line = createRedactor().text(last);
  return line.length > CHECK_LINE_MAX ? `${line.slice(0, CHECK_LINE_MAX - 1)}…` : line;
}

/**
 * Which containers deserve an inspect for their restart count: those not in a good state
 * (restarting, exited unexpectedly, unhealthy, starting) — where the count explains something.
 * With `all`, every container (one engine call each).
 */
export function containersToInspect(report: StatusReport, containers: readonly ContainerInfo[], all: boolean): string[] {
  const troubled = new Set(report.services.filter((s) => !s.ok && s.container !== null).map((s) => s.container));
  return containers.filter((c) => all || troubled.has(c.name)).map((c) => c.id);
}
