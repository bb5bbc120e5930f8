import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import type { MstingConfig } from '../config/schema.js';
import { composeFailure, type ComposeCli, type ComposeProject } from '../docker/compose-cli.js';
import type { DockerEngine } from '../docker/engine.js';
import { MstingError } from '../errors.js';
import type { StackPlan } from '../stack/plan.js';

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
}

/** Where each STING-CE image is built from in the source tree. */
export function buildRecipe(service: string, group: string): BuildRecipe | undefined {
  switch (service) {
    case 'app':
      return { context: '.', dockerfile: 'app/Dockerfile.app' };
    case 'frontend':
      return { context: 'frontend', dockerfile: 'frontend/Dockerfile.react-nginx' };
    case 'messaging':
      return { context: 'messaging_service', dockerfile: 'messaging_service/Dockerfile' };
    case 'knowledge':
      return { context: 'knowledge_service', dockerfile: 'knowledge_service/Dockerfile' };
    case 'chatbot':
      return { context: '.', dockerfile: 'chatbot/Dockerfile' };
    case 'external-ai':
      return { context: '.', dockerfile: 'external_ai_service/Dockerfile' };
    default:
      return group === 'model' ? { context: 'llm_service', dockerfile: `llm_service/Dockerfile.${service.replace(/-\d+$/, '')}` } : undefined;
  }
}

export const LLM_BASE_RECIPE: BuildRecipe = { context: 'llm_service', dockerfile: 'llm_service/Dockerfile.llm-base' };

export type ImageAction = { service: string; image: string; action: 'present' | 'pull' } | { service: string; image: string; action: 'build'; recipe: BuildRecipe };

export interface ImagePlan {
  actions: ImageAction[];
  /** The LLM base image must be built first. */
  buildBase: boolean;
}

/** Decide, per service, whether its image is there, pulled, or built (pure, given what is present). */
export function planImages(config: MstingConfig, plan: Pick<StackPlan, 'services'>, present: ReadonlySet<string>, basePresent: boolean): ImagePlan {
  const sourceDir = config.images.source_dir;
  const actions: ImageAction[] = [];
  const seen = new Set<string>();
  for (const s of plan.services) {
    if (seen.has(s.image) && present.has(s.image)) continue;
    if (present.has(s.image)) {
      actions.push({ service: s.name, image: s.image, action: 'present' });
      continue;
    }
    const recipe = sourceDir && config.images.overrides[s.name] === undefined ? buildRecipe(s.name, s.group) : undefined;
    if (recipe && !seen.has(s.image)) actions.push({ service: s.name, image: s.image, action: 'build', recipe });
    else if (!seen.has(s.image)) actions.push({ service: s.name, image: s.image, action: 'pull' });
    seen.add(s.image);
  }
  const buildsModels = actions.some((a) => a.action === 'build' && a.recipe.context === 'llm_service');
  return { actions, buildBase: buildsModels && !basePresent };
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
  const child = execa('docker', ['build', '-t', tag, '-f', dockerfile, join(sourceDir, recipe.context)], {
    env: deps.env,
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
    all: true,
    cancelSignal: deps.signal,
  });
  let rest = '';
  child.all?.on('data', (chunk: Buffer) => {
    const lines = (rest + chunk.toString()).split(/\r?\n/);
    rest = lines.pop() ?? '';
    for (const line of lines) if (line.trim()) deps.onLine?.(line);
  });
  const result = await child;
  if (result.isCanceled) throw new MstingError('INTERRUPTED', 'interrupted during an image build', { hint: 'run the same command again' });
  if (result.failed) {
    const err = composeFailure('build', { exitCode: result.exitCode, stderr: result.all, code: (result as { code?: string }).code });
    throw new MstingError(err.code, `docker build of ${tag} failed${result.exitCode !== undefined ? ` (exit ${result.exitCode})` : ''}`, {
      details: String(result.all ?? '').trim().split('\n').slice(-15),
      hint: `fix the build in ${join(sourceDir, recipe.context)}, or name a ready image in images.overrides`,
    });
  }
}

export interface ImageStepResult {
  pulled: string[];
  built: string[];
  present: string[];
}

export async function ensureImages(config: MstingConfig, plan: Pick<StackPlan, 'services'>, deps: ImageStepDeps): Promise<ImageStepResult> {
  const images = [...new Set(plan.services.map((s) => s.image))];
  const present = new Set<string>();
  await Promise.all(images.map(async (i) => (await deps.engine.imagePresent(i)) && present.add(i)));
  const basePresent = await deps.engine.imagePresent(LLM_BASE_IMAGE);
  const imagePlan = planImages(config, plan, present, basePresent);
  const result: ImageStepResult = { pulled: [], built: [], present: [] };
  for (const a of imagePlan.actions) if (a.action === 'present') {
    result.present.push(a.image);
    deps.onImage?.(a.service, a.image, 'present');
  }
  const sourceDir = config.images.source_dir;
  if (imagePlan.buildBase && sourceDir) {
    deps.onImage?.('llm-base', LLM_BASE_IMAGE, 'build');
    await buildImage(LLM_BASE_IMAGE, LLM_BASE_RECIPE, sourceDir, deps);
    result.built.push(LLM_BASE_IMAGE);
    deps.onImage?.('llm-base', LLM_BASE_IMAGE, 'done');
  }
  // The base image's dependents after it, then the others.
  const builds = imagePlan.actions.filter((a): a is Extract<ImageAction, { action: 'build' }> => a.action === 'build');
  for (const b of builds) {
    deps.signal.throwIfAborted();
    deps.onImage?.(b.service, b.image, 'build');
    await buildImage(b.image, b.recipe, sourceDir!, deps);
    result.built.push(b.image);
    deps.onImage?.(b.service, b.image, 'done');
  }
  const pulls = imagePlan.actions.filter((a) => a.action === 'pull');
  if (pulls.length > 0) {
    for (const p of pulls) deps.onImage?.(p.service, p.image, 'pull');
    await deps.compose.pull(
      deps.project,
      pulls.map((p) => p.service),
      { signal: deps.signal, onLine: deps.onLine },
    );
    for (const p of pulls) {
      result.pulled.push(p.image);
      deps.onImage?.(p.service, p.image, 'done');
    }
  }
  return result;
}
