import { randomBytes } from 'node:crypto';
import { access, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { MstingConfig } from '../config/schema.js';
import { oneError, type ComposeCli, type ComposeProject, type PullProblem } from '../docker/compose-cli.js';
import type { DockerEngine } from '../docker/engine.js';
import { MstingError } from '../errors.js';
import type { Recommendation } from '../hardware/types.js';
import { buildRecipe, inspectTree, planImages, type ImageAction } from '../install/images.js';
import { openRunLog } from '../install/run-log.js';
import { readStingSchema } from '../install/source-tree.js';
import { readState } from '../install/state.js';
import { installLayout, modelsDir, type InstallLayout } from '../layout.js';
import { checkServiceNames, stackGraph } from '../lifecycle/graph.js';
import { modelCommitsFor } from '../models/snapshots.js';
import { renderStack } from '../render/render-stack.js';
import type { RenderedFile } from '../render/render-stack.js';
import { writeRendered, type WriteGuard } from '../render/write.js';
import { RENDER_PATHS, registryImageName, type ServicePlan } from '../stack/plan.js';
import type { SecretsProvider } from '../stack/secrets.js';
import type { BundleSource } from '../bundle/source.js';
import { configHashes, executeUpdate, readPreviousRender, type UpdateOutcome, type UpdateServiceState } from './execute.js';
import { planUpdate, type RunningService, type UpdatePlan } from './plan.js';

/**
 * The update workflow: render again, pull (or build) newer images while the old ones keep
 * running, plan which services change image or config, back up, then recreate only those, in
 * dependency order, each waited for (executeUpdate puts back one that does not come up). It
 * prints nothing: the command binds the callbacks to its output.
 */

export interface UpdateAdapters {
  engine: DockerEngine;
  /** The id of the image a reference names on this machine, or null when it is not here (update/docker.ts). */
  imageId(reference: string): Promise<string | null>;
  /** The project's services as they run now: container, image id, config hash (update/docker.ts). */
  runningServices(project: string): Promise<RunningService[]>;
  compose: ComposeCli;
  /** The recommendation the profile is planned with (the machine's when it runs models). */
  recommendation(config: MstingConfig, profile: string): Promise<Recommendation>;
  /** Vault's secrets for the render; `onUnavailable` says why Vault could not be read. */
  secrets(config: MstingConfig, onUnavailable: (reason: string) => void): Promise<SecretsProvider>;
  /** `docker build` of what the source tree builds (install/images.ts buildFromSource). */
  build(actions: readonly ImageAction[], buildBase: boolean, sourceDir: string, onImage: (image: string) => void): Promise<unknown>;
  /**
   * Pull newer images where a registry answers (`images`: service → reference); returns what
   * could not be pulled, each with the error it means (compose-cli.ts pullAvailable).
   */
  pull(project: ComposeProject, services: string[], images: Readonly<Record<string, string>>, onLine: (line: string) => void): Promise<PullProblem[]>;
  /** Point a reference at an older image again (rollback). */
  retag(id: string, reference: string): Promise<void>;
  /** The backup before the update; returns the archive's path. */
  backup(config: MstingConfig, layout: InstallLayout): Promise<string>;
  /** Guards that check files before they replace the running ones (the gateway's nginx -t). */
  guards(files: ReadonlyMap<string, RenderedFile>): Promise<Map<string, WriteGuard>>;
  /** `--bundle FILE`, verified: its images (and models) are loaded instead of building or pulling anything. */
  bundle?: BundleSource;
}

export interface UpdateCallbacks {
  onInfo(message: string): void;
  onDebug(message: string): void;
  /** The plan, once known; before anything is backed up or recreated. */
  onPlan(plan: UpdatePlan): void;
  onServiceState(service: string, state: UpdateServiceState, detail?: string): void;
}

export interface UpdateRequest {
  config: MstingConfig;
  home: string;
  env: NodeJS.ProcessEnv;
  signal: AbortSignal;
  services: string[];
  /** Show the plan only (`--plan`): nothing pulled, written or recreated. */
  planOnly: boolean;
  backup: boolean;
  timeoutS: number;
}

export type UpdateResult =
  | { kind: 'planned'; plan: UpdatePlan }
  | { kind: 'unchanged'; plan: UpdatePlan }
  | { kind: 'applied'; plan: UpdatePlan; outcomes: UpdateOutcome[] };

/** A STING-CE image named by images.registry and images.version (not an override): update needs that registry to answer. */
function fromImagesRegistry(config: MstingConfig, service: Pick<ServicePlan, 'name' | 'model'>): boolean {
  const key = service.model ? service.model.name : service.name;
  return config.images.overrides[key] === undefined && registryImageName(config.images.registry, config.images.version, key, service.model !== null) !== undefined;
}

export async function runUpdate(request: UpdateRequest, adapters: UpdateAdapters, callbacks: UpdateCallbacks): Promise<UpdateResult> {
  const { config, home, signal } = request;
  const layout = installLayout(home);
  const profile = (await readState(layout.stateFile))?.profile ?? config.profile;
  const recommendation = await adapters.recommendation(config, profile);
  let vaultProblem: string | null = null;
  const secrets = await adapters.secrets(config, (reason) => (vaultProblem = reason));
  const models = modelsDir(request.env, process.platform, homedir());
  const rendered = renderStack({ config, recommendation, profile, secrets, modelsDir: models, modelCommits: await modelCommitsFor(config, profile, models), schema: await readStingSchema(config) });
  const stack = rendered.plan;
  if (request.services.length > 0) checkServiceNames(stackGraph(stack), request.services, profile);
  const previous = await readPreviousRender(home, stack);
  const files = [layout.composeFile];
  if (await access(layout.composeOverrideFile).then(() => true, () => false)) files.push(layout.composeOverrideFile);
  const project: ComposeProject = { name: config.project.name, files, profile };
  const composeText = rendered.files.get(RENDER_PATHS.composeFile)!.content;

  const log = request.planOnly ? undefined : await openRunLog(`${layout.logsDir}/msting.log`, { command: 'update' });
  try {
    const targets = stack.services.filter((s) => request.services.length === 0 || request.services.includes(s.name));
    // New images first, while the old containers keep serving.
    if (!request.planOnly && adapters.bundle) {
      callbacks.onInfo(`loading the images${adapters.bundle.manifest.models.length > 0 ? ' and models' : ''} of ${adapters.bundle.file}`);
      const loaded = await adapters.bundle.load();
      log?.write({ event: 'bundle-load', file: adapters.bundle.file, images: loaded.images, models: loaded.models.map((m) => m.name) });
    } else if (!request.planOnly) {
      const sourceDir = config.images.source_dir;
      // Rebuilt from the tree: every target it builds (nothing counts as present), the LLM base first.
      const buildable = sourceDir ? targets.filter((s) => config.images.overrides[s.name] === undefined && buildRecipe(s)) : [];
      if (sourceDir && buildable.length > 0) {
        const images = planImages(config, { services: buildable }, new Set(), false, await inspectTree(sourceDir, buildable));
        await adapters.build(images.actions, images.buildBase, sourceDir, (image) => callbacks.onInfo(`building ${image}`));
      }
      const toPull = targets.filter((s) => !buildable.includes(s)).map((s) => s.name);
      // The compose file on disk may be older than this render; pull from the new one, written aside.
      // Beside the real one: compose resolves the file's relative paths (../env/<service>.env) from its folder.
      const tmpCompose = join(layout.composeDir, `.docker-compose.update-${process.pid}-${randomBytes(4).toString('hex')}.yml`);
      try {
        await writeFile(tmpCompose, composeText, { mode: 0o600 });
        callbacks.onInfo(`checking for newer images of ${toPull.length} service${toPull.length === 1 ? '' : 's'}`);
        const images = Object.fromEntries(targets.map((s) => [s.name, s.image]));
        const problems = await adapters.pull({ ...project, files: [tmpCompose] }, toPull, images, (l) => {
          callbacks.onDebug(`  ${l}`);
          log?.write({ event: 'output', line: l });
        });
        for (const p of problems) callbacks.onDebug(`  pull: ${p.service}: ${p.text}`);
        // Nothing is written or recreated yet: a STING-CE image that images.registry does not
        // serve, or any image this host lacks, stops the update here.
        const fatal: PullProblem[] = [];
        for (const p of problems) {
          const spec = targets.find((s) => s.name === p.service);
          if ((spec && fromImagesRegistry(config, spec)) || (await adapters.imageId(p.reference)) === null) fatal.push(p);
        }
        if (fatal.length > 0) {
          const err = oneError(fatal);
          throw new MstingError(err.code, err.message, { details: err.details, hint: `${err.hint}; nothing was changed`, cause: err });
        }
        if (problems.length > 0) callbacks.onInfo(`${problems.map((p) => p.service).join(', ')}: no newer image could be pulled (no registry access?); the local copies are used`);
      } finally {
        await rm(tmpCompose, { force: true });
      }
    }

    const imageIds = new Map<string, string | null>();
    await Promise.all(targets.map(async (s) => imageIds.set(s.name, await adapters.imageId(s.image))));
    const running = await adapters.runningServices(config.project.name);
    const plan = planUpdate({ stack, configHashes: configHashes(composeText), running, imageIds, requested: request.services });
    log?.write({ event: 'update-plan', changes: plan.changes.map((c) => ({ service: c.service, reasons: c.reasons, from_image: c.fromImageId, to_image: c.toImageId })), unchanged: plan.unchanged });
    callbacks.onPlan(plan);
    if (request.planOnly) return { kind: 'planned', plan };
    if (plan.changes.length === 0) {
      await writeRendered(rendered.files, home, { signal, guards: await adapters.guards(rendered.files) });
      return { kind: 'unchanged', plan };
    }
    if (rendered.pendingSecrets.length > 0) {
      throw new MstingError('VAULT', `cannot update: ${rendered.pendingSecrets.length} secrets could not be read from Vault${vaultProblem ? ` (${vaultProblem})` : ''}`, {
        hint: 'unseal Vault (msting unseal) and run msting update again; nothing was changed',
      });
    }

    if (request.backup) {
      callbacks.onInfo('backing up before the update (skip with --no-backup)');
      const path = await adapters.backup(config, layout);
      log?.write({ event: 'backup', path });
      callbacks.onInfo(`backup written: ${path}`);
    }

    // The running gateway checks its new config before it is put in place (refused: nothing was written).
    await writeRendered(rendered.files, home, { signal, guards: await adapters.guards(rendered.files) });
    const outcomes = await executeUpdate(plan, {
      engine: adapters.engine,
      compose: adapters.compose,
      project,
      home,
      stack,
      previous,
      previousImageIds: new Map(running.map((r) => [r.service, r.imageId])),
      retag: adapters.retag,
      signal,
      timeoutS: request.timeoutS,
      onLine: (l) => callbacks.onDebug(`  ${l}`),
      onState: (service, state, detail) => {
        log?.write({ event: 'service', service, state, ...(detail ? { detail } : {}) });
        callbacks.onServiceState(service, state, detail);
      },
    });
    const named = (state: UpdateOutcome['state']) => outcomes.filter((o) => o.state === state).map((o) => o.service);
    log?.write({ event: 'update-result', updated: named('updated'), rolled_back: named('rolled-back'), rollback_failed: named('rollback-failed'), not_updated: named('not-updated') });
    return { kind: 'applied', plan, outcomes };
  } finally {
    await log?.close();
  }
}
