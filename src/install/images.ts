import { access } from 'node:fs/promises';
import { join } from 'node:path';
import type { MstingConfig } from '../config/schema.js';
import { buildImage as dockerBuild } from '../docker/cli.js';
import { composeFailure, type ComposeCli, type ComposeProject } from '../docker/compose-cli.js';
import type { DockerEngine } from '../docker/engine.js';
import { MstingError } from '../errors.js';
import type { ServicePlan, StackPlan } from '../stack/plan.js';

/**
 * The images step: every image of the profile is made present, pulled when missing, or built
 * from the STING-CE source tree when `images.source_dir` names one (the shared LLM base image
 * first, then the model services that build on it). Images already on the machine are left
 * alone.
 */

/** The image every model service's Dockerfile starts FROM. */
export const LLM_BASE_IMAGE = 'sting/llm-base:latest';

export interface BuildRecipe {
  /** Build context, relative to the source directory. */
  context: string;
  /** Dockerfile, relative to the source directory. */
  dockerfile: string;
  /** `--build-arg` values. */
  args: Record<string, string>;
  /** Image the Dockerfile starts FROM that msting builds first (the LLM base image). */
  base: 'llm-base' | null;
}

/**
 * Where each STING-CE image is built from in the source tree, as STING-CE's own
 * docker-compose.yml `build:` sections lay it out (the model services as its first public commit
 * had them: llm_service/Dockerfile.llm with MODEL_NAME, FROM sting/llm-base:latest). Services on
 * stock images (Vault, PostgreSQL, Kratos, Redis, Mailpit, Chroma, the nginx LLM gateway,
 * Loki, Promtail, Grafana) are not built.
 */
export function buildRecipe(service: Pick<ServicePlan, 'name' | 'group' | 'model'>): BuildRecipe | undefined {
  const recipe = (context: string, dockerfile: string): BuildRecipe => ({ context, dockerfile, args: {}, base: null });
  switch (service.name) {
    case 'app':
      return recipe('.', 'app/Dockerfile.app');
    case 'frontend':
      return recipe('frontend', 'frontend/Dockerfile.react-nginx');
    case 'messaging':
      return recipe('messaging_service', 'messaging_service/Dockerfile');
    case 'knowledge':
      return recipe('knowledge_service', 'knowledge_service/Dockerfile');
    case 'chatbot':
      return recipe('.', 'chatbot/Dockerfile');
    case 'external-ai':
      return recipe('.', 'external_ai_service/Dockerfile');
    default:
      if (service.group !== 'model' || !service.model) return undefined;
      return { context: 'llm_service', dockerfile: 'llm_service/Dockerfile.llm', args: { MODEL_NAME: service.model.name }, base: 'llm-base' };
  }
}

export const LLM_BASE_RECIPE: BuildRecipe = { context: 'llm_service', dockerfile: 'llm_service/Dockerfile.llm-base', args: {}, base: null };

/** The paths of the tree a recipe needs (its Dockerfile and context, and its base image's). */
export function recipePaths(recipe: BuildRecipe): string[] {
  const own = [recipe.dockerfile, recipe.context];
  return recipe.base === 'llm-base' ? [...own, LLM_BASE_RECIPE.dockerfile, LLM_BASE_RECIPE.context] : own;
}

export type ImageAction =
  | { service: string; image: string; action: 'present' | 'pull' }
  | { service: string; image: string; action: 'build'; recipe: BuildRecipe }
  /** The tree cannot build it: `missing` are the paths it lacks. */
  | { service: string; image: string; action: 'unbuildable'; missing: string[] };

export interface ImagePlan {
  actions: ImageAction[];
  /** The LLM base image must be built first. */
  buildBase: boolean;
}

/**
 * Decide, per service, whether its image is there, pulled, or built (pure, given what is present
 * and which paths the source tree has). With `images.source_dir`, every STING-CE image is built
 * unless `images.overrides.<service>` names another; one whose Dockerfile is not in the tree is
 * `unbuildable`.
 */
export function planImages(
  config: MstingConfig,
  plan: { services: Pick<ServicePlan, 'name' | 'group' | 'model' | 'image'>[] },
  present: ReadonlySet<string>,
  basePresent: boolean,
  treeHas: (path: string) => boolean = () => true,
): ImagePlan {
  const sourceDir = config.images.source_dir;
  const actions: ImageAction[] = [];
  const seen = new Set<string>();
  for (const s of plan.services) {
    if (seen.has(s.image)) continue;
    seen.add(s.image);
    if (present.has(s.image)) {
      actions.push({ service: s.name, image: s.image, action: 'present' });
      continue;
    }
    const recipe = sourceDir && config.images.overrides[s.name] === undefined ? buildRecipe(s) : undefined;
    if (!recipe) {
      actions.push({ service: s.name, image: s.image, action: 'pull' });
      continue;
    }
    const missing = recipePaths(recipe).filter((p) => !(recipe.base === 'llm-base' && basePresent && LLM_BASE_RECIPE.dockerfile === p) && !treeHas(p));
    if (missing.length > 0) actions.push({ service: s.name, image: s.image, action: 'unbuildable', missing: [...new Set(missing)] });
    else actions.push({ service: s.name, image: s.image, action: 'build', recipe });
  }
  const buildsModels = actions.some((a) => a.action === 'build' && a.recipe.base === 'llm-base');
  return { actions, buildBase: buildsModels && !basePresent };
}

/**
 * The error for images the source tree cannot build, naming each service, what the tree lacks,
 * and what to set instead. Null when there are none.
 */
export function unbuildableError(actions: readonly ImageAction[], sourceDir: string): MstingError | null {
  const unbuildable = actions.filter((a): a is Extract<ImageAction, { action: 'unbuildable' }> => a.action === 'unbuildable');
  if (unbuildable.length === 0) return null;
  const llm = unbuildable.some((a) => a.missing.some((p) => p.startsWith('llm_service')));
  return new MstingError(
    'CONFIG_INVALID',
    `images.source_dir (${sourceDir}) cannot build ${unbuildable.map((a) => a.service).join(', ')}: the tree has no ${[...new Set(unbuildable.flatMap((a) => a.missing))].join(', ')}`,
    {
      details: unbuildable.map((a) => `${a.service} (${a.image}): needs ${a.missing.join(', ')}`),
      hint: [
        `set images.overrides.<service> to a ready image for each (${unbuildable.map((a) => `images.overrides.${a.service}`).join(', ')})`,
        llm ? ", or take llm_service/ from STING-CE's first public commit (c36a1bb): the newest tree dropped it" : '',
      ].join(''),
    },
  );
}

async function treeHasPaths(sourceDir: string, paths: readonly string[]): Promise<Set<string>> {
  const found = new Set<string>();
  await Promise.all(paths.map(async (p) => (await exists(join(sourceDir, p))) && found.add(p)));
  return found;
}

/** Every path the recipes of these services need, checked in the tree once. */
export async function inspectTree(sourceDir: string, services: readonly Pick<ServicePlan, 'name' | 'group' | 'model'>[]): Promise<(path: string) => boolean> {
  const paths = new Set(services.flatMap((s) => {
    const r = buildRecipe(s);
    return r ? recipePaths(r) : [];
  }));
  const found = await treeHasPaths(sourceDir, [...paths]);
  return (path) => found.has(path);
}

export interface ImageStepDeps {
  engine: DockerEngine;
  compose: ComposeCli;
  project: ComposeProject;
  env: NodeJS.ProcessEnv;
  signal: AbortSignal;
  onLine?: (line: string) => void;
  onImage?: (service: string, image: string, action: 'pull' | 'build' | 'present' | 'done') => void;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** `docker build` of one image, its output passed on line by line. */
export async function buildImage(tag: string, recipe: BuildRecipe, sourceDir: string, deps: Pick<ImageStepDeps, 'env' | 'signal' | 'onLine'>): Promise<void> {
  const dockerfile = join(sourceDir, recipe.dockerfile);
  if (!(await exists(dockerfile))) {
    throw new MstingError('IO', `cannot build ${tag}: ${dockerfile} does not exist`, {
      hint: 'check images.source_dir (the STING-CE source tree), or name a ready image in images.overrides.<service>',
    });
  }
  const result = await dockerBuild(
    { tag, dockerfile, buildArgs: recipe.args, context: join(sourceDir, recipe.context) },
    { env: deps.env, signal: deps.signal, onLine: deps.onLine },
  );
  if (result.canceled) throw new MstingError('INTERRUPTED', 'interrupted during an image build', { hint: 'run the same command again' });
  if (result.failed) {
    const err = composeFailure('build', { exitCode: result.exitCode, stderr: result.all, code: result.code });
    throw new MstingError(err.code, `docker build of ${tag} failed${result.exitCode !== undefined ? ` (exit ${result.exitCode})` : ''}`, {
      details: result.all.trim().split('\n').slice(-15),
      hint: `fix the build in ${join(sourceDir, recipe.context)}, or name a ready image in images.overrides`,
    });
  }
}

export interface ImageStepResult {
  pulled: string[];
  built: string[];
  present: string[];
}

/**
 * Build images from the source tree: the LLM base image first when `buildBase`, then each
 * recipe. Refuses before building anything when the tree cannot build one of them.
 */
export async function buildFromSource(
  actions: readonly ImageAction[],
  buildBase: boolean,
  sourceDir: string,
  deps: Pick<ImageStepDeps, 'env' | 'signal' | 'onLine' | 'onImage'>,
): Promise<string[]> {
  const refused = unbuildableError(actions, sourceDir);
  if (refused) throw refused;
  const built: string[] = [];
  if (buildBase) {
    deps.onImage?.('llm-base', LLM_BASE_IMAGE, 'build');
    await buildImage(LLM_BASE_IMAGE, LLM_BASE_RECIPE, sourceDir, deps);
    built.push(LLM_BASE_IMAGE);
    deps.onImage?.('llm-base', LLM_BASE_IMAGE, 'done');
  }
  for (const b of actions) {
    if (b.action !== 'build') continue;
    deps.signal.throwIfAborted();
    deps.onImage?.(b.service, b.image, 'build');
    await buildImage(b.image, b.recipe, sourceDir, deps);
    built.push(b.image);
    deps.onImage?.(b.service, b.image, 'done');
  }
  return built;
}

export async function ensureImages(config: MstingConfig, plan: Pick<StackPlan, 'services'>, deps: ImageStepDeps): Promise<ImageStepResult> {
  const images = [...new Set(plan.services.map((s) => s.image))];
  const present = new Set<string>();
  await Promise.all(images.map(async (i) => (await deps.engine.imagePresent(i)) && present.add(i)));
  const basePresent = await deps.engine.imagePresent(LLM_BASE_IMAGE);
  const sourceDir = config.images.source_dir;
  const treeHas = sourceDir ? await inspectTree(sourceDir, plan.services) : undefined;
  const imagePlan = planImages(config, plan, present, basePresent, treeHas);
  const result: ImageStepResult = { pulled: [], built: [], present: [] };
  for (const a of imagePlan.actions) if (a.action === 'present') {
    result.present.push(a.image);
    deps.onImage?.(a.service, a.image, 'present');
  }
  if (sourceDir) result.built.push(...(await buildFromSource(imagePlan.actions, imagePlan.buildBase, sourceDir, deps)));
  const pulls = imagePlan.actions.filter((a) => a.action === 'pull');
  if (pulls.length > 0) {
    for (const p of pulls) deps.onImage?.(p.service, p.image, 'pull');
    await deps.compose.pull(
      deps.project,
      pulls.map((p) => p.service),
      { signal: deps.signal, onLine: deps.onLine, images: Object.fromEntries(pulls.map((p) => [p.service, p.image])) },
    );
    for (const p of pulls) {
      result.pulled.push(p.image);
      deps.onImage?.(p.service, p.image, 'done');
    }
  }
  return result;
}
