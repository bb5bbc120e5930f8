import { createInterface } from 'node:readline/promises';
import type { Context } from '../context.js';
import { detectDocker, type DockerSetup } from '../docker/detect.js';
import { ExitCode, MstingError } from '../errors.js';
import { executeClean, isEmptyPlan, planClean, type CleanPlan } from '../lifecycle/clean.js';
import { loadStack, requireCompose } from '../lifecycle/stack.js';

export interface CleanCommandOptions {
  volumes: boolean;
}

export interface CleanDeps {
  docker(ctx: Context): Promise<DockerSetup>;
  /** Ask a yes/no question on the terminal. */
  confirm(question: string, ctx: Context): Promise<boolean>;
}

async function askOnTerminal(question: string, ctx: Context): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: ctx.out.stderr });
  try {
    const answer = await rl.question(question, { signal: ctx.signal });
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

export const defaultDeps: CleanDeps = {
  docker: (ctx) => detectDocker({ env: ctx.env, cwd: ctx.home, needCompose: false }),
  confirm: askOnTerminal,
};

function listing(plan: CleanPlan): string[] {
  const lines: string[] = [];
  if (plan.containers.length) lines.push(`containers: ${plan.containers.map((c) => c.name).join(', ')}`);
  if (plan.networks.length) lines.push(`networks:   ${plan.networks.map((n) => n.name).join(', ')}`);
  if (plan.volumes.length) lines.push(`volumes:    ${plan.volumes.map((v) => v.name).join(', ')}  (ALL THEIR DATA)`);
  return lines;
}

/**
 * `msting clean [--volumes]`: remove the project's containers and networks (found by the
 * compose project label); with --volumes also its volumes and every byte in them, after listing
 * them and asking (or with --yes). Without a terminal and without --yes it refuses.
 */
export async function run(options: CleanCommandOptions, ctx: Context, deps: CleanDeps = defaultDeps): Promise<number> {
  const stack = await loadStack(ctx);
  requireCompose(stack.config, 'clean', 'with orchestrator swarm, `msting stop` removes the stack (volumes kept); `docker volume rm` on each node removes its data');
  const { engine } = await deps.docker(ctx);
  const plan = await planClean(engine, stack.project.name, options.volumes);
  const out = ctx.out;

  if (isEmptyPlan(plan)) {
    if (out.json) out.result({ project: plan.project, removed: { containers: [], networks: [], volumes: [] }, kept_volumes: plan.keptVolumes.map((v) => v.name) });
    else out.print(`nothing to clean: project ${plan.project} has no containers or networks${options.volumes ? ' or volumes' : ''}`);
    return ExitCode.ok;
  }

  if (!out.json) {
    out.info(`will remove from project ${plan.project}:`);
    for (const line of listing(plan)) out.info(`  ${line}`);
  }
  if (plan.volumes.length > 0 && !ctx.yes) {
    if (!ctx.stdinIsTTY) {
      throw new MstingError('USAGE', `clean --volumes deletes ${plan.volumes.length} volume${plan.volumes.length === 1 ? '' : 's'} and all their data, and there is no terminal to ask`, {
        details: listing(plan),
        hint: 'run it again with --yes to confirm: msting clean --volumes --yes',
      });
    }
    const ok = await deps.confirm(`Delete these ${plan.volumes.length} volumes and all their data? [y/N] `, ctx);
    if (!ok) {
      out.print('nothing was removed');
      return ExitCode.failure;
    }
  }

  const report = await executeClean(plan, engine, {
    stopTimeoutS: stack.config.stop_timeout,
    onRemoved: (kind, name) => out.debug(`removed ${kind} ${name}`),
  });
  if (out.json) {
    out.result({ project: plan.project, removed: report, kept_volumes: plan.keptVolumes.map((v) => v.name) });
    return ExitCode.ok;
  }
  const parts = [`${report.containers.length} container${report.containers.length === 1 ? '' : 's'}`, `${report.networks.length} network${report.networks.length === 1 ? '' : 's'}`];
  if (options.volumes) parts.push(`${report.volumes.length} volume${report.volumes.length === 1 ? '' : 's'}`);
  out.print(`removed ${parts.join(', ')} of project ${plan.project}`);
  if (plan.keptVolumes.length > 0) out.info(`kept ${plan.keptVolumes.length} volumes with your data (${plan.keptVolumes.map((v) => v.name).join(', ')}); \`msting clean --volumes\` deletes them`);
  return ExitCode.ok;
}
