import { resolve } from 'node:path';
import { readState } from '../install/state.js';
import { installLayout } from '../layout.js';
import { openBundleWithProgress } from '../ui/bundle-open.js';
import { loadConfig } from '../config/load.js';
import { formatProblem } from '../config/problems.js';
import type { MstingConfig } from '../config/schema.js';
import type { Context } from '../context.js';
import { tagImage } from '../docker/cli.js';
import { pullAvailable } from '../docker/compose-cli.js';
import { detectDocker } from '../docker/detect.js';
import { ExitCode, MstingError } from '../errors.js';
import { cpuFallbackRecommendation } from '../hardware/types.js';
import { buildFromSource } from '../install/images.js';
import { profileRunsModels } from '../install/flow.js';
import type { InstallLayout } from '../layout.js';
import { renderGuards } from '../lifecycle/render-step.js';
import type { Output } from '../ui/output.js';
import { ServiceProgress } from '../ui/progress.js';
import { runningServices } from '../update/docker.js';
import type { UpdateOutcome } from '../update/execute.js';
import type { UpdatePlan } from '../update/plan.js';
import { runUpdate, type UpdateAdapters } from '../update/workflow.js';
import { MSTING_VERSION } from '../package-info.js';

export interface UpdateCommandOptions {
  services: string[];
  plan: boolean;
  /** False with --no-backup. */
  backup: boolean;
  /** An offline bundle: its images (and models) replace the pull and the build. */
  bundle?: string | undefined;
  timeout: number;
}


/**
 * `msting update [SERVICE...]`: render again, pull (or build) newer images while the old ones
 * keep running, show which services change image or config, back up, then recreate only those,
 * in dependency order, each waited for; a service that does not come up healthy is put back to
 * its previous image and config.
 */
export async function run(options: UpdateCommandOptions, ctx: Context): Promise<number> {
  const { out } = ctx;
  const loaded = await loadConfig({ configPath: ctx.configPath, configExplicit: ctx.configExplicit, env: ctx.env });
  for (const w of loaded.warnings) out.warn(formatProblem(w, loaded.path));
  if (loaded.config.orchestrator === 'swarm') return updateSwarm(options, ctx);
  const docker = await detectDocker({ env: ctx.env, cwd: ctx.home, needCompose: true });
  // A bundle is checked against the installed profile, before anything changes.
  const installedProfile = (await readState(installLayout(ctx.home).stateFile))?.profile ?? loaded.config.profile;
  const bundle = options.bundle === undefined || options.plan ? undefined : await openBundleWithProgress(resolve(options.bundle), installedProfile, ctx);
  const adapters: UpdateAdapters = {
    engine: docker.engine,
    compose: docker.compose,
    imageId: (reference) => docker.engine.imageId(reference),
    runningServices: (project) => runningServices(docker.engine, project),
    recommendation: async (config, profile) => (profileRunsModels(config, profile) ? probeRecommendation(config, ctx) : cpuFallbackRecommendation(config.llm.models)),
    secrets: async (config, onUnavailable) => {
      const { renderSecretsFromVault } = await import('../vault/render-secrets.js');
      return renderSecretsFromVault(config, ctx, onUnavailable);
    },
    build: (actions, buildBase, sourceDir, onImage) =>
      buildFromSource(actions, buildBase, sourceDir, {
        env: ctx.env,
        signal: ctx.signal,
        onLine: (l) => out.debug(`  ${l}`),
        onImage: (_service, image, action) => action === 'build' && onImage(image),
      }),
    pull: (project, services, images, onLine) => pullAvailable(project, services, { env: ctx.env, cwd: ctx.home, signal: ctx.signal, images, onLine }),
    retag: (id, reference) => tagImage(id, reference, ctx.env),
    backup: (config, layout) => backupBeforeUpdate(config, layout, ctx),
    guards: (files) => renderGuards({ files, project: loaded.config.project.name, env: ctx.env, signal: ctx.signal }),
    ...(bundle ? { bundle } : {}),
  };
  // On a terminal, the recreated services as one live block (src/ui/progress.ts); plain lines
  // and NDJSON otherwise, as before.
  let progress: ServiceProgress | undefined;
  const finalStates = new Set<string>(['updated', 'failed', 'rolled-back', 'rollback-failed', 'not-updated']);
  const result = await runUpdate(
    { config: loaded.config, home: ctx.home, env: ctx.env, signal: ctx.signal, services: options.services, planOnly: options.plan, backup: options.backup, timeoutS: options.timeout },
    adapters,
    {
      onInfo: (m) => out.info(m),
      onDebug: (m) => out.debug(m),
      onPlan: (plan) => {
        printPlan(out, plan, options.plan);
        if (out.interactive && !options.plan && plan.changes.length > 0) {
          progress = new ServiceProgress(out, plan.layers.flat(), (state) => finalStates.has(state), 'updating');
        }
      },
      onServiceState: (service, state, detail) => {
        if (out.json) out.event({ event: 'service', service, state, ...(detail ? { detail } : {}) });
        else if (progress) progress.update(service, state, detail);
        else out.info(`  ${service}: ${state}${detail ? ` (${detail})` : ''}`);
      },
    },
  ).finally(() => progress?.close());
  if (result.kind === 'planned') return ExitCode.ok;
  if (result.kind === 'unchanged') {
    if (out.json) out.event({ event: 'summary', ok: true, updated: [], rolled_back: [] });
    else out.print(`nothing to update: all ${result.plan.unchanged.length} services run their current image and config`);
    return ExitCode.ok;
  }
  return finish(out, result.outcomes);
}

function finish(out: Output, outcomes: UpdateOutcome[]): number {
  const updated = outcomes.filter((o) => o.state === 'updated').map((o) => o.service);
  const back = outcomes.filter((o) => o.state === 'rolled-back');
  const broken = outcomes.filter((o) => o.state === 'rollback-failed');
  const skipped = outcomes.filter((o) => o.state === 'not-updated').map((o) => o.service);
  if (out.json) out.event({ event: 'summary', ok: back.length + broken.length === 0, updated, rolled_back: back.map((o) => o.service), rollback_failed: broken.map((o) => o.service), not_updated: skipped });
  if (back.length + broken.length === 0) {
    if (!out.json) out.print(`updated ${updated.length} service${updated.length === 1 ? '' : 's'}: ${updated.join(', ')}`);
    return ExitCode.ok;
  }
  const first = back[0] ?? broken[0]!;
  throw new MstingError(
    'EXTERNAL',
    broken.length > 0
      ? `${broken.map((o) => o.service).join(', ')} did not come up, and putting back the previous version failed too`
      : `${back.map((o) => o.service).join(', ')} did not come up healthy after the update and ${back.length === 1 ? 'was' : 'were'} rolled back to the previous image and config`,
    {
      details: [
        ...outcomes.filter((o) => o.detail).map((o) => `${o.service}: ${o.detail}`),
        ...(updated.length > 0 ? [`updated: ${updated.join(', ')}`] : []),
        ...(skipped.length > 0 ? [`left as they were: ${skipped.join(', ')}`] : []),
      ],
      hint: `\`msting logs ${first.service}\` shows why; config.yml still holds the change, so fix it (or the image) and run msting update again`,
    },
  );
}

function printPlan(out: Output, plan: UpdatePlan, planOnly: boolean): void {
  if (out.json) {
    const doc = {
      event: 'plan',
      changes: plan.changes.map((c) => ({ service: c.service, reasons: c.reasons, image: c.image, from_image_id: c.fromImageId, to_image_id: c.toImageId })),
      unchanged: plan.unchanged,
      order: plan.layers,
    };
    if (planOnly) out.result({ changes: doc.changes, unchanged: doc.unchanged, order: doc.order });
    else out.event(doc);
    return;
  }
  if (plan.changes.length === 0) {
    if (planOnly) out.print('nothing would change: every service runs its current image and config');
    return;
  }
  const lines = [planOnly ? 'update plan (nothing was changed):' : 'update plan:'];
  for (const c of plan.changes) {
    const why = c.reasons.map((r) => (r === 'image' ? `new image ${c.image} (${short(c.fromImageId)} → ${short(c.toImageId)})` : r === 'config' ? 'config changed' : 'not running yet')).join(', ');
    lines.push(`  recreate ${c.service}: ${why}`);
  }
  lines.push(`  order: ${plan.layers.map((l) => l.join(' + ')).join(' → ')}`);
  lines.push(`  unchanged: ${plan.unchanged.length > 0 ? plan.unchanged.join(', ') : 'none'}`);
  if (planOnly) out.print(lines.join('\n'));
  else out.info(lines.join('\n'));
}

function short(id: string | null): string {
  return id ? id.replace(/^sha256:/, '').slice(0, 12) : 'none';
}

/** The machine's recommendation, as `start`, `status` and `config render` plan with (hardware snapshot). */
async function probeRecommendation(config: MstingConfig, ctx: Context) {
  const { machineRecommendation } = await import('../hardware/snapshot.js');
  return machineRecommendation(config, ctx.home, ctx.env);
}

/** The automatic backup: encrypted with the backup key file (created on first use), like `msting backup --encrypt`. */
async function backupBeforeUpdate(config: MstingConfig, layout: InstallLayout, ctx: Context): Promise<string> {
  const [{ createBackup }, { createBackupEngine }, { defaultKeyFilePath, ensureKeyFile }, { keyIdOf }] = await Promise.all([
    import('../backup/create.js'),
    import('../docker/backup-engine.js'),
    import('../backup/keys.js'),
    import('../backup/crypto-format.js'),
  ]);
  const { key } = await ensureKeyFile(defaultKeyFilePath(layout.secretsDir));
  try {
    const result = await createBackup(
      createBackupEngine(ctx.env),
      {
        project: config.project.name,
        stack: { imagesVersion: config.images.version, imagesRegistry: config.images.registry, profile: config.profile },
        layout,
        outputDir: layout.backupsDir,
        encryption: { kind: 'key', master: key, kdf: { kind: 'key-file', keyId: keyIdOf(key) } },
        includeVaultKeys: false,
        mstingVersion: MSTING_VERSION,
        signal: ctx.signal,
      },
      { onWarning: (m) => ctx.out.warn(m) },
    );
    return result.path;
  } catch (err) {
    if (err instanceof MstingError && err.code === 'INTERRUPTED') throw err;
    throw new MstingError('EXTERNAL', `the backup before the update failed, so nothing was updated: ${err instanceof Error ? err.message : String(err)}`, {
      hint: 'fix the backup (msting backup shows the same error), or run msting update --no-backup to update without one',
      cause: err,
    });
  }
}

/**
 * `update` under `orchestrator: swarm`: render again and deploy the whole stack once; Swarm
 * replaces only the services whose definition changed (a new image, or a secret or config with
 * new content under its new name), one task at a time, and rolls a service back when its new task
 * fails (`update_config.failure_action: rollback`).
 */
async function updateSwarm(options: UpdateCommandOptions, ctx: Context): Promise<number> {
  if (options.plan) {
    throw new MstingError('USAGE', 'update --plan is not available with orchestrator swarm', {
      hint: '`msting config render` shows the rendered files; the stack file is compose/swarm-stack.yml after a start or update',
    });
  }
  const [{ loadStack }, { startSwarm }, { swarmStartDeps }, { finishSwarmDeploy, swarmDeployCallbacks }] = await Promise.all([
    import('../lifecycle/stack.js'),
    import('../swarm/start.js'),
    import('../swarm/adapters.js'),
    import('../ui/swarm-report.js'),
  ]);
  const stack = await loadStack(ctx);
  if (options.backup) ctx.out.warn('orchestrator swarm: update takes no backup first; run `msting backup` before it (docs/swarm.md)');
  const request = { home: ctx.home, env: ctx.env, signal: ctx.signal, services: options.services, timeoutS: options.timeout, oneWave: true };
  const result = await startSwarm(stack, request, swarmStartDeps(ctx), swarmDeployCallbacks(ctx));
  return finishSwarmDeploy(result, ctx, 'update');
}
