import type { MstingConfig } from '../config/schema.js';
import type { Context } from '../context.js';
import { createDockerEngine, type ContainerDetails, type ContainerInfo, type DockerEngine } from '../docker/engine.js';
import { ExitCode } from '../errors.js';
import { formatGatewayUpstreams } from '../gateway/upstreams.js';
import { planGateway } from '../gateway/plan.js';
import { loadStack } from '../lifecycle/stack.js';
import { buildStatus, containersToInspect, type ServiceStatus, type StatusReport, type VaultSummary } from '../lifecycle/status.js';
import type { Output } from '../ui/output.js';

export interface StatusCommandOptions {
  profile?: string | undefined;
}

export interface StatusCommandDeps {
  engine(ctx: Context): DockerEngine;
  /** The Vault integration's seam: sealed or not, given the vault container (undefined: none). Null: not asked. */
  vault(config: MstingConfig, ctx: Context, container: ContainerInfo | undefined): Promise<VaultSummary | null>;
}

export const defaultDeps: StatusCommandDeps = {
  engine: (ctx) => createDockerEngine(ctx.env),
  vault: async (config, ctx, container) => {
    const { vaultSummary } = await import('../vault/lifecycle.js');
    return vaultSummary(config, ctx, container);
  },
};

/**
 * `msting status`: every service of the profile, running or not, with state, health, ports,
 * image, uptime and restarts, and why a failing health check failed; the URLs to open. One engine
 * call lists the containers; only services in trouble are inspected for their restart count and
 * last check (every one under --verbose).
 * Exit 0 when every service is healthy, 1 otherwise.
 */
export async function run(options: StatusCommandOptions, ctx: Context, deps: StatusCommandDeps = defaultDeps): Promise<number> {
  const stack = await loadStack(ctx, { profile: options.profile });
  if (stack.config.orchestrator === 'swarm') {
    const [{ swarmStatus }, { createSwarmEngine }, { printSwarmStatus }] = await Promise.all([import('../swarm/lifecycle.js'), import('../docker/swarm.js'), import('../ui/swarm-report.js')]);
    const report = await swarmStatus(stack, createSwarmEngine(ctx.env));
    if (ctx.out.json) ctx.out.result(report);
    else printSwarmStatus(report, ctx.out);
    return report.healthy ? ExitCode.ok : ExitCode.failure;
  }
  const engine = deps.engine(ctx);
  // The list call is the engine check: an unreachable engine fails here with exit 4.
  const containers = await engine.listContainers(stack.project.name);
  const first = buildStatus({ plan: stack.plan, config: stack.config, containers });
  const ids = containersToInspect(first, containers, ctx.verbose);
  const details = new Map<string, ContainerDetails>();
  await Promise.all(ids.map(async (id) => details.set(id, await engine.inspectContainer(id))));
  const vaultContainer = containers.find((c) => c.service === 'vault' && c.state === 'running') ?? containers.find((c) => c.service === 'vault');
  const hasVault = stack.plan.services.some((s) => s.name === 'vault');
  const vault = hasVault ? await deps.vault(stack.config, ctx, vaultContainer) : null;
  const gateway = stack.plan.services.some((s) => s.name === 'llm-gateway') ? planGateway(stack.config.llm, stack.recommendation) : null;
  const report = buildStatus({ plan: stack.plan, config: stack.config, containers, details, vault, gateway });
  if (ctx.out.json) ctx.out.result(report);
  else printStatus(report, ctx.out);
  return report.healthy ? ExitCode.ok : ExitCode.failure;
}

function stateText(s: ServiceStatus): string {
  if (s.state === 'missing') return 'not created';
  if (s.job) return s.state === 'exited' ? (s.exit_code === 0 ? 'completed' : `failed (exit ${s.exit_code ?? '?'})`) : s.state;
  if (s.state === 'running') return s.health === 'none' ? 'running' : s.health === 'starting' ? 'starting' : s.health;
  if (s.state === 'exited') return `exited (${s.exit_code ?? '?'})`;
  return s.state;
}

export function printStatus(report: StatusReport, out: Output): void {
  const rows = report.services.map((s) => ({
    s,
    cells: [
      s.service + (s.in_profile ? '' : ' *'),
      stateText(s),
      s.ports.map((p) => `${p.host_ip === '0.0.0.0' ? '' : `${p.host_ip}:`}${p.host_port}→${p.container_port}`).join(', ') || '-',
      s.uptime ?? '-',
      s.restarts === null ? '-' : String(s.restarts),
      s.image,
    ],
  }));
  const header = ['SERVICE', 'STATE', 'PORTS', 'UP', 'RESTARTS', 'IMAGE'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r.cells[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  out.print(`project ${report.project}, profile ${report.profile}`);
  out.print(out.paint('bold', line(header)));
  for (const { s, cells } of rows) {
    const tone = s.ok ? 'green' : s.state === 'missing' || s.state === 'created' ? 'dim' : 'red';
    const painted = [...cells];
    painted[1] = out.paint(tone, cells[1]!.padEnd(widths[1]!));
    out.print(painted.map((c, i) => (i === 1 || i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  '));
  }
  if (report.services.some((s) => !s.in_profile)) out.print('* not in this profile');
  for (const s of report.services.filter((x) => x.last_check !== null)) out.print(`${s.service}: last health check failed: ${s.last_check}`);
  const paused = report.services.filter((s) => s.state === 'paused').map((s) => s.service);
  if (paused.length > 0) {
    // A backup freezes a service while it copies its volume; one killed in the middle leaves it so.
    out.print(`paused: ${paused.join(', ')} (frozen, not serving): a running backup resumes it when its copy ends; one that was killed is put right by the next \`msting backup\`, or run \`docker unpause\``);
  }
  if (report.vault) {
    const v = report.vault;
    const tone = v.state === 'unsealed' ? 'green' : v.state === 'sealed' || v.state === 'starting' ? 'yellow' : 'red';
    const text = v.state === 'sealed' ? `sealed (unseal progress ${v.progress ?? 0} of ${v.threshold ?? '?'})` : v.state === 'uninitialized' ? 'not initialized' : v.state;
    const hint = v.state === 'sealed' ? ': run `msting unseal` or `msting start`' : v.state === 'uninitialized' ? ': run `msting vault init` or `msting install`' : '';
    const detail = v.detail && v.state !== 'sealed' ? ` (${v.detail})` : '';
    out.print(`vault: ${out.paint(tone, text)}${detail}${v.mode === 'dev' ? ' [dev mode: in memory]' : ''}${hint}`);
  }
  if (report.gateway) {
    const lines = formatGatewayUpstreams(report.gateway);
    out.print('');
    out.print(lines.length === 0 ? 'llm-gateway: no model routed (llm.models)' : 'llm-gateway:');
    for (const l of lines) out.print(`  ${l}`);
  }
  const urls = Object.entries(report.urls).filter(([, url]) => url !== null);
  if (urls.length > 0) {
    out.print('');
    for (const [name, url] of urls) out.print(`${name.padEnd(9)} ${url}`);
  }
  const bad = report.services.filter((s) => s.in_profile && !s.ok).length;
  out.print('');
  out.print(bad === 0 ? out.paint('green', 'all services healthy') : out.paint('yellow', `${bad} of ${report.services.filter((s) => s.in_profile).length} services not healthy`));
}
