import type { Context } from '../context.js';
import type { DockerEngine } from '../docker/engine.js';
import { ExitCode, MstingError } from '../errors.js';
import { gatewayGuardMessage } from '../gateway/write-guard.js';
import type { RenderStepResult } from '../lifecycle/render-step.js';
import type { StartCallbacks } from '../lifecycle/start-stack.js';
import { FINAL_OK, type StartPlan, type StartResult } from '../lifecycle/start.js';
import { ServiceProgress } from './progress.js';

/**
 * How `start`, `restart` and `restore` show a start: the render report, one line per service
 * while it starts, and on failure the failing services' last log lines.
 */

/** Lines of a failing service's log shown when start gives up. */
export const FAILURE_LOG_LINES = 40;

/** The start workflow's callbacks, bound to this command's output. */
export function startCallbacks(ctx: Context): StartCallbacks {
  return {
    onRendered: (r) => reportRender(r, ctx),
    onGateway: (r) => reportGateway(r, ctx),
    onWarning: (m) => ctx.out.warn(m),
    onVaultMessage: (m) => (ctx.out.json ? ctx.out.event({ event: 'vault', message: m, at: new Date().toISOString() }) : ctx.out.info(`vault: ${m}`)),
    onComposeLine: (line) => ctx.out.debug(`compose: ${line}`),
    onPhase: (plan) => {
      const progress = new ServiceProgress(ctx.out, plan.items.map((i) => i.service), isFinalState, 'waiting for health');
      return { onState: (service, state, detail) => progress.update(service, state, detail), close: () => progress.close() };
    },
  };
}

function reportGateway(result: Parameters<typeof gatewayGuardMessage>[0], ctx: Context): void {
  const message = gatewayGuardMessage(result);
  if (message !== null) ctx.out.info(message);
}

function reportRender(rendered: RenderStepResult, ctx: Context): void {
  if (rendered.report.written.length + rendered.report.removed.length > 0) {
    ctx.out.info(`rendered: ${[...rendered.report.written, ...rendered.report.removed.map((p) => `${p} (removed)`)].join(', ')}`);
  }
  for (const path of rendered.kept) ctx.out.debug(`kept ${path}: it holds secrets this render could not read`);
}

/** The end of start/restart: say what happened; on failure show logs and exit 5. */
export async function finishStart(plan: StartPlan, result: StartResult, engine: DockerEngine, ctx: Context, verb: 'start' | 'restart'): Promise<number> {
  const { out } = ctx;
  if (result.failed.length === 0) {
    const summary = { event: 'summary', ok: true, changed: result.changed, services: result.outcomes.length, at: new Date().toISOString() };
    if (out.json) out.event(summary);
    else if (!result.changed) out.print(`already running: all ${result.outcomes.length} services of profile ${plan.profile} are up; nothing changed`);
    else {
      const acted = result.outcomes.filter((o) => o.acted).length;
      const slowest = Math.max(0, ...result.outcomes.map((o) => o.elapsedMs));
      out.print(`${verb === 'start' ? 'started' : 'restarted'} ${acted} service${acted === 1 ? '' : 's'} of profile ${plan.profile} in ${(slowest / 1000).toFixed(1)} s; all ${result.outcomes.length} are up`);
    }
    return ExitCode.ok;
  }

  const failed = result.outcomes.filter((o) => o.state === 'failed');
  const skipped = result.outcomes.filter((o) => o.state === 'skipped');
  const states = new Map(result.outcomes.map((o) => [o.service, o.state]));
  const containers = new Map((await engine.listContainers(plan.project)).map((c) => [c.service, c]));
  for (const outcome of failed) {
    const item = plan.items.find((i) => i.service === outcome.service)!;
    const container = containers.get(outcome.service);
    const lines: string[] = [];
    if (container) {
      const controller = new AbortController();
      for await (const line of engine.logs(container.id, { follow: false, tail: FAILURE_LOG_LINES }, controller.signal)) lines.push(line.text);
    }
    const dependsOn = item.dependsOn.map((d) => ({ service: d.service, condition: d.condition, state: states.get(d.service) ?? 'waiting' }));
    if (out.json) {
      out.event({ event: 'failure', service: outcome.service, detail: outcome.detail ?? null, depends_on: dependsOn, logs: lines, at: new Date().toISOString() });
      continue;
    }
    out.info('');
    out.info(out.paint('red', `✖ ${outcome.service}: ${outcome.detail ?? 'failed'}`));
    out.info(`  depends on: ${dependsOn.length === 0 ? 'nothing' : dependsOn.map((d) => `${d.service} (${d.state})`).join(', ')}`);
    out.info(`  last ${FAILURE_LOG_LINES} log lines${container ? ` of ${container.name}` : ''}:`);
    if (lines.length === 0) out.info('    (no output)');
    for (const line of lines) out.info(`    ${line}`);
  }
  const names = failed.map((o) => o.service);
  throw new MstingError(
    'EXTERNAL',
    `${names.length} service${names.length === 1 ? '' : 's'} did not come up: ${names.join(', ')}${skipped.length > 0 ? ` (not started because of it: ${skipped.map((o) => o.service).join(', ')})` : ''}`,
    {
      hint: `containers and volumes were left for inspection: \`msting logs ${names[0] ?? ''}\`, \`msting status\`; after fixing, run \`msting ${verb}\` again`,
    },
  );
}

/** The states after which a service's clock stops. */
const FINAL_STATES: ReadonlySet<string> = new Set<string>([...FINAL_OK, 'failed', 'skipped']);
const isFinalState = (state: string): boolean => FINAL_STATES.has(state);
