import { homedir } from 'node:os';
import { loadConfig } from '../config/load.js';
import { formatProblem } from '../config/problems.js';
import type { MstingConfig } from '../config/schema.js';
import type { Context } from '../context.js';
import { projectArgs, type ComposeProject } from '../docker/compose-cli.js';
import { detectDocker } from '../docker/detect.js';
import { ExitCode, MstingError } from '../errors.js';
import { cpuFallbackRecommendation } from '../hardware/types.js';
import { buildFromSource, buildRecipe, inspectTree, planImages } from '../install/images.js';
import { openRunLog } from '../install/run-log.js';
import { readStingSchema } from '../install/source-tree.js';
import { readState } from '../install/state.js';
import { profileRunsModels } from '../install/flow.js';
import { installLayout, modelsDir } from '../layout.js';
import { checkServiceNames, stackGraph } from '../lifecycle/graph.js';
import { renderGuards } from '../lifecycle/render-step.js';
import { modelCommitsFor } from '../models/snapshots.js';
import { RENDER_PATHS } from '../stack/plan.js';
import { renderStack } from '../render/render-stack.js';
import { writeRendered } from '../render/write.js';
import type { Output } from '../ui/output.js';
import { configHashes, executeUpdate, readPreviousRender, type UpdateOutcome } from '../update/execute.js';
import { imageId, pullNewer, retagImage, runningServices } from '../update/docker.js';
import { planUpdate, type UpdatePlan } from '../update/plan.js';
import { MSTING_VERSION } from '../package-info.js';

export interface UpdateCommandOptions {
  services: string[];
  plan: boolean;
  /** False with --no-backup. */
  backup: boolean;
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
  const layout = installLayout(ctx.home);
  const loaded = await loadConfig({ configPath: ctx.configPath, configExplicit: ctx.configExplicit, env: ctx.env });
  for (const w of loaded.warnings) out.warn(formatProblem(w, loaded.path));
  const config = loaded.config;
  const profile = (await readState(layout.stateFile))?.profile ?? config.profile;
  const docker = await detectDocker({ env: ctx.env, cwd: ctx.home, needCompose: true });
  const recommendation = profileRunsModels(config, profile) ? await probeRecommendation(config, ctx) : cpuFallbackRecommendation(config.llm.models);

  const { renderSecretsFromVault } = await import('../vault/render-secrets.js');
  let vaultProblem: string | null = null;
  const secrets = await renderSecretsFromVault(config, ctx, (reason) => (vaultProblem = reason));
  const models = modelsDir(ctx.env, process.platform, homedir());
  const rendered = renderStack({ config, recommendation, profile, secrets, modelsDir: models, modelCommits: await modelCommitsFor(config, profile, models), schema: await readStingSchema(config) });
  const stack = rendered.plan;
  if (options.services.length > 0) checkServiceNames(stackGraph(stack), options.services, profile);
  const previous = await readPreviousRender(ctx.home, stack);
  const files = [layout.composeFile];
  const { access } = await import('node:fs/promises');
  if (await access(layout.composeOverrideFile).then(() => true, () => false)) files.push(layout.composeOverrideFile);
  const project: ComposeProject = { name: config.project.name, files, profile };

  const log = options.plan ? undefined : await openRunLog(`${layout.logsDir}/msting.log`, { command: 'update' });
  try {
    const targets = stack.services.filter((s) => options.services.length === 0 || options.services.includes(s.name));
    // New images first, while the old containers keep serving.
    if (!options.plan) {
      const sourceDir = config.images.source_dir;
      // Rebuilt from the tree: every target it builds (nothing counts as present), the LLM base first.
      const buildable = sourceDir ? targets.filter((s) => config.images.overrides[s.name] === undefined && buildRecipe(s)) : [];
      if (sourceDir && buildable.length > 0) {
        const images = planImages(config, { services: buildable }, new Set(), false, await inspectTree(sourceDir, buildable));
        await buildFromSource(images.actions, images.buildBase, sourceDir, {
          env: ctx.env,
          signal: ctx.signal,
          onLine: (l) => out.debug(`  ${l}`),
          onImage: (_service, image, action) => action === 'build' && out.info(`building ${image}`),
        });
      }
      const toPull = targets.filter((s) => !buildable.includes(s)).map((s) => s.name);
      // The compose file on disk may be older than this render; pull from the new one, written aside.
      const { mkdtemp, rm, writeFile } = await import('node:fs/promises');
      const { join } = await import('node:path');
      const tmp = await mkdtemp(join(layout.composeDir, '.update-'));
      try {
        const composeText = rendered.files.get(RENDER_PATHS.composeFile)!.content;
        const tmpCompose = join(tmp, 'docker-compose.yml');
        await writeFile(tmpCompose, composeText, { mode: 0o600 });
        out.info(`checking for newer images of ${toPull.length} service${toPull.length === 1 ? '' : 's'}`);
        const problems = await pullNewer(projectArgs({ ...project, files: [tmpCompose] }), toPull, ctx.env, ctx.home, ctx.signal, (l) => {
          out.debug(`  ${l}`);
          log?.write({ event: 'output', line: l });
        });
        for (const p of problems) out.debug(`  pull: ${p}`);
        if (problems.length > 0) out.info(`some images could not be pulled (no registry access?); their local copies are used`);
      } finally {
        await rm(tmp, { recursive: true, force: true });
      }
    }

    const imageIds = new Map<string, string | null>();
    await Promise.all(targets.map(async (s) => imageIds.set(s.name, await imageId(docker.engine, s.image))));
    const running = await runningServices(docker.engine, config.project.name);
    const plan = planUpdate({
      stack,
      configHashes: configHashes(rendered.files.get(RENDER_PATHS.composeFile)!.content),
      running,
      imageIds,
      requested: options.services,
    });
    log?.write({ event: 'update-plan', changes: plan.changes.map((c) => ({ service: c.service, reasons: c.reasons, from_image: c.fromImageId, to_image: c.toImageId })), unchanged: plan.unchanged });
    printPlan(out, plan, options.plan);
    if (options.plan) return ExitCode.ok;
    if (plan.changes.length === 0) {
      await writeRendered(rendered.files, ctx.home, { signal: ctx.signal, guards: await renderGuards({ files: rendered.files, project: config.project.name, env: ctx.env, signal: ctx.signal }) });
      if (out.json) out.event({ event: 'summary', ok: true, updated: [], rolled_back: [] });
      else out.print(`nothing to update: all ${plan.unchanged.length} services run their current image and config`);
      return ExitCode.ok;
    }
    if (rendered.pendingSecrets.length > 0) {
      throw new MstingError('VAULT', `cannot update: ${rendered.pendingSecrets.length} secrets could not be read from Vault${vaultProblem ? ` (${vaultProblem})` : ''}`, {
        hint: 'unseal Vault (msting unseal) and run msting update again; nothing was changed',
      });
    }

    if (options.backup) {
      out.info('backing up before the update (skip with --no-backup)');
      const path = await backupBeforeUpdate(config, layout, ctx);
      log?.write({ event: 'backup', path });
      out.info(`backup written: ${path}`);
    }

    // The running gateway checks its new config before it is put in place (refused: nothing was written).
    await writeRendered(rendered.files, ctx.home, { signal: ctx.signal, guards: await renderGuards({ files: rendered.files, project: config.project.name, env: ctx.env, signal: ctx.signal }) });
    const previousImageIds = new Map(running.map((r) => [r.service, r.imageId]));
    const outcomes = await executeUpdate(plan, {
      engine: docker.engine,
      compose: docker.compose,
      project,
      home: ctx.home,
      stack,
      previous,
      previousImageIds,
      retag: (id, ref) => retagImage(id, ref, ctx.env),
      signal: ctx.signal,
      timeoutS: options.timeout,
      onLine: (l) => out.debug(`  ${l}`),
      onState: (service, state, detail) => {
        log?.write({ event: 'service', service, state, ...(detail ? { detail } : {}) });
        if (out.json) out.event({ event: 'service', service, state, ...(detail ? { detail } : {}) });
        else out.info(`  ${service}: ${state}${detail ? ` (${detail})` : ''}`);
      },
    });
    return finish(out, outcomes, log);
  } finally {
    await log?.close();
  }
}

function finish(out: Output, outcomes: UpdateOutcome[], log: { write(e: { event: string; [k: string]: unknown }): void } | undefined): number {
  const updated = outcomes.filter((o) => o.state === 'updated').map((o) => o.service);
  const back = outcomes.filter((o) => o.state === 'rolled-back');
  const broken = outcomes.filter((o) => o.state === 'rollback-failed');
  const skipped = outcomes.filter((o) => o.state === 'not-updated').map((o) => o.service);
  log?.write({ event: 'update-result', updated, rolled_back: back.map((o) => o.service), rollback_failed: broken.map((o) => o.service), not_updated: skipped });
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
async function backupBeforeUpdate(config: MstingConfig, layout: ReturnType<typeof installLayout>, ctx: Context): Promise<string> {
  const [{ createBackup }, { createDockerEngine }, { defaultKeyFilePath, ensureKeyFile }, { keyIdOf }] = await Promise.all([
    import('../backup/create.js'),
    import('../backup/engine.js'),
    import('../backup/keys.js'),
    import('../backup/crypto-format.js'),
  ]);
  const { key } = await ensureKeyFile(defaultKeyFilePath(layout.secretsDir));
  try {
    const result = await createBackup(
      createDockerEngine(),
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
