import type { Context } from '../context.js';
import { formatBytes } from '../bytes.js';
import { ExitCode, MstingError } from '../errors.js';
import type { DeployResult } from '../swarm/deploy.js';
import type { NodeRow } from '../swarm/nodes.js';
import type { SwarmStartCallbacks } from '../swarm/start.js';
import type { SwarmServiceStatus, SwarmStatusReport } from '../swarm/status.js';
import type { Output } from './output.js';

/**
 * How the lifecycle commands show work against a swarm (`orchestrator: swarm`): one line per
 * service as its wave deploys, the status table with tasks and nodes, the node list.
 */

export function swarmDeployCallbacks(ctx: Context): SwarmStartCallbacks {
  const at = () => new Date().toISOString();
  return {
    onState: (service, state, detail) => {
      if (ctx.out.json) ctx.out.event({ service, state, ...(detail ? { detail } : {}), at: at() });
      else if (state === 'failed') ctx.out.warn(`${service}: failed${detail ? `: ${detail}` : ''}`);
      else ctx.out.info(`${service}: ${state}`);
    },
    onLine: (line) => ctx.out.debug(`docker: ${line}`),
    onMessage: (message) => (ctx.out.json ? ctx.out.event({ event: 'message', message, at: at() }) : ctx.out.info(message)),
    onWarning: (message) => ctx.out.warn(message),
  };
}

/** The end of a swarm deploy: a summary, or the failing services as an error (exit 5). */
export function finishSwarmDeploy(result: DeployResult, ctx: Context, verb: string): number {
  for (const w of result.warnings) ctx.out.warn(w);
  if (result.failed.length > 0) {
    throw new MstingError('EXTERNAL', `${result.failed.length} service${result.failed.length === 1 ? '' : 's'} did not come up in the swarm`, {
      details: result.failed.map((f) => `${f.service}: ${f.detail}`),
      hint: '`msting status` shows each service\'s tasks and nodes; `msting logs SERVICE` its log; `docker service ps --no-trunc <project>_<service>` the full task errors',
    });
  }
  const services = Object.keys((result.stack.document.services as Record<string, unknown>) ?? {}).length;
  if (ctx.out.json) ctx.out.event({ event: 'summary', ok: true, orchestrator: 'swarm', services, at: new Date().toISOString() });
  else ctx.out.success(`${verb}: ${services} service${services === 1 ? '' : 's'} running in the swarm`);
  return ExitCode.ok;
}

function healthText(s: SwarmServiceStatus): string {
  return s.health === 'missing' ? 'not deployed' : s.health;
}

export function printSwarmStatus(report: SwarmStatusReport, out: Output): void {
  const rows = report.services.map((s) => ({
    s,
    cells: [
      s.service,
      s.job ? '-' : `${s.running}/${s.desired}`,
      healthText(s),
      s.nodes.join(', ') || '-',
      [...s.lost.map((l) => `lost on ${l.node} (node down)`), ...(s.detail && !s.ok ? [s.detail] : [])].join('; ') || '',
    ],
  }));
  const header = ['SERVICE', 'TASKS', 'HEALTH', 'NODE', 'NOTE'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r.cells[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  out.print(`project ${report.project}, profile ${report.profile}, swarm of ${report.nodes.length} node${report.nodes.length === 1 ? '' : 's'}`);
  out.print(out.paint('bold', line(header)));
  for (const { s, cells } of rows) {
    const painted = [...cells];
    painted[2] = out.paint(s.ok ? 'green' : s.health === 'starting' ? 'yellow' : 'red', cells[2]!.padEnd(widths[2]!));
    out.print(painted.map((c, i) => (i === 2 || i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd());
  }
  out.print('');
  for (const n of report.nodes) {
    const tone = n.state === 'ready' ? 'green' : 'red';
    out.print(`node ${n.hostname} (${n.role}): ${out.paint(tone, n.state)}, ${n.availability}`);
  }
  const bad = report.services.filter((s) => !s.ok).length;
  out.print('');
  out.print(bad === 0 ? out.paint('green', 'all services healthy') : out.paint('yellow', `${bad} of ${report.services.length} services not healthy`));
}

export function printNodes(rows: readonly NodeRow[], out: Output): void {
  const cells = rows.map((r) => [
    r.hostname,
    `${r.role}${r.leader ? ' (leader)' : ''}`,
    `${r.state}/${r.availability}`,
    Object.entries(r.labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(',') || '-',
    `${r.cpus.toFixed(0)} CPU, ${formatBytes(r.memory_bytes)}${r.gpus.length > 0 ? `, ${r.gpus.map((g) => `${g.kind}=${g.value}`).join(' ')}` : ''}`,
    `${r.recommends.device}/${r.recommends.precision}, models: ${r.recommends.models_fit.join(' ') || 'none'}${r.recommends.gpu_label && r.labels['sting.gpu'] !== 'true' ? ' — label it: msting swarm label ' + r.hostname + ' --gpu' : ''} (${r.recommends.source})`,
  ]);
  const header = ['NODE', 'ROLE', 'STATE', 'LABELS', 'RESOURCES', 'RECOMMENDS'];
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((x, i) => (i === c.length - 1 ? x : x.padEnd(widths[i]!))).join('  ');
  out.print(out.paint('bold', line(header)));
  for (const c of cells) out.print(line(c));
}
