import { access, readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { checkRoom, createBundle, planBundle } from '../bundle/create.js';
import { configWithoutSecrets } from '../bundle/format.js';
import { cachedPack } from '../bundle/package.js';
import { formatBytes } from '../bytes.js';
import { loadConfig } from '../config/load.js';
import { formatProblem } from '../config/problems.js';
import type { Context } from '../context.js';
import { resolveEndpoint } from '../docker/endpoint.js';
import { createImageArchive } from '../docker/image-archive.js';
import { ExitCode, MstingError, usageError } from '../errors.js';
import { quickPlan } from '../render/quick-plan.js';
import { modelsDir } from '../layout.js';
import { freeBytes } from '../models/disk.js';
import { inspectModel, readModelState, type ModelState } from '../models/state.js';
import { isUsable } from '../models/snapshots.js';
import { MSTING_BUILD, MSTING_VERSION, PACKAGE_ROOT } from '../package-info.js';
import { enabledModels } from '../stack/plan.js';
import { ByteProgress } from '../ui/byte-progress.js';

export interface BundleCreateOptions {
  profile?: string | undefined;
  withModels: boolean;
  output?: string | undefined;
}

/** The default file name: what it is for, so a site with several can tell them apart. */
export function defaultBundleName(project: string, profile: string, version: string): string {
  return `${project}-bundle-${profile}-${version}.tar`;
}

/**
 * `msting bundle create`: every image of the profile (one `docker save` stream), the enabled
 * models with --with-models, config.yml without secrets and msting's own npm package, into one
 * archive for a host with no network (docs/bundle.md).
 */
export async function run(options: BundleCreateOptions, ctx: Context): Promise<number> {
  const { out } = ctx;
  const loaded = await loadConfig({ configPath: ctx.configPath, configExplicit: ctx.configExplicit, env: ctx.env, profile: options.profile });
  for (const w of loaded.warnings) out.warn(formatProblem(w, loaded.path));
  const config = loaded.config;
  const profile = options.profile ?? config.profile;
  const output = resolve(options.output ?? defaultBundleName(config.project.name, profile, MSTING_VERSION));
  const folder = dirname(output);
  const isFolder = await stat(folder).then((s) => s.isDirectory(), () => false);
  if (!isFolder) throw usageError(`${folder} is not a folder that exists`, 'create it first, or name a file in another folder with --output; nothing was written');
  if (!ctx.yes && (await access(output).then(() => true, () => false))) {
    throw usageError(`${output} already exists`, 'name another file with --output, or pass --yes to replace it');
  }

  const images = createImageArchive(resolveEndpoint(ctx.env), ctx.env);
  const services = quickPlan(config, profile, ctx.env).services.map((s) => ({ name: s.name, image: s.image }));
  const inspected = new Map(await Promise.all([...new Set(services.map((s) => s.image))].map(async (ref) => [ref, await images.inspect(ref)] as const)));
  const mdir = modelsDir(ctx.env, process.platform, homedir());
  const models = options.withModels ? await modelsToCarry(config, mdir) : [];
  const configText = await readFile(ctx.configPath, 'utf8').catch(() => '');
  const plan = planBundle({ profile, version: MSTING_VERSION, services, inspected, models, config: configWithoutSecrets(configText) });
  checkRoom(plan, output, await freeBytes(resolve(output, '..')));

  const progress = new ByteProgress(out, 'bundle');
  progress.stage(`${plan.images.length} images, ${plan.models.length} models, at most ${formatBytes(plan.estimateBytes)}`, { stage: 'plan', images: plan.images.length, models: plan.models.length, estimate_bytes: plan.estimateBytes });
  let result;
  try {
    result = await createBundle(plan, output, {
      images,
      packageRoot: PACKAGE_ROOT,
      pack: cachedPack(join(ctx.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'msting'), MSTING_BUILD),
      modelsDir: mdir,
      signal: ctx.signal,
      onStage: (stage, detail) => progress.stage(`${stage}: ${detail}`, { stage, detail }),
      onBytes: progress.add,
    });
  } finally {
    progress.done();
  }
  if (out.json) {
    out.event({
      event: 'result',
      file: result.path,
      bytes: result.bytes,
      profile,
      msting_version: MSTING_VERSION,
      images: result.manifest.images.map((i) => ({ reference: i.reference, id: i.id, services: i.services })),
      models: result.manifest.models.map((m) => m.name),
      entries: result.manifest.entries.length,
    });
  } else {
    out.success(`${result.path}: ${formatBytes(result.bytes)}, ${result.manifest.images.length} images, ${result.manifest.models.length} models, msting ${MSTING_VERSION} (profile ${profile})`);
    out.print(['', 'On the host without network (docs/bundle.md):', `  tar -xf ${result.path.split('/').at(-1)} ${result.manifest.package} && npm install -g ./${result.manifest.package}`, `  msting bundle verify ${result.path.split('/').at(-1)}`, `  sudo msting install --bundle ${result.path.split('/').at(-1)}${profile === config.profile ? '' : ` --profile ${profile}`}`].join('\n'));
  }
  return ExitCode.ok;
}

/** The enabled models, each wholly on disk; refuses naming what is missing. */
async function modelsToCarry(config: Parameters<typeof enabledModels>[0], dir: string): Promise<ModelState[]> {
  const enabled = enabledModels(config);
  if (enabled.length === 0) throw usageError('--with-models: no model is enabled in config.yml (llm.models[].enabled)', 'enable the models to carry, or leave out --with-models');
  const states: ModelState[] = [];
  const missing: string[] = [];
  for (const m of enabled) {
    const inspection = await inspectModel(dir, m);
    const state = await readModelState(dir, m.name);
    if (!isUsable(inspection.state) || !state || state.commit !== inspection.commit) missing.push(`${m.name} (${inspection.state})`);
    else states.push(state);
  }
  if (missing.length > 0) {
    throw new MstingError('PREFLIGHT', `--with-models: not every enabled model is downloaded in ${dir}: ${missing.join(', ')}`, {
      hint: 'run `msting models download` here first (it resumes), then create the bundle again; nothing was written',
    });
  }
  return states;
}
