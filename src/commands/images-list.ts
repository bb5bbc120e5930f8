import { loadConfig } from '../config/load.js';
import { formatProblem } from '../config/problems.js';
import type { Context } from '../context.js';
import { detectDocker } from '../docker/detect.js';
import { inspectLocalImage, type LocalImage } from '../docker/registry.js';
import { ExitCode } from '../errors.js';
import { imageRows } from '../images/list.js';
import { quickPlan } from '../render/quick-plan.js';
import { readState } from '../install/state.js';
import { installLayout } from '../layout.js';

export interface ImagesListOptions {
  profile?: string | undefined;
}

/** `msting images list [--profile P]`: each service's image, whether this host has it, its id and registry digest. */
export async function run(options: ImagesListOptions, ctx: Context): Promise<number> {
  const { out } = ctx;
  const loaded = await loadConfig({ configPath: ctx.configPath, configExplicit: ctx.configExplicit, env: ctx.env });
  for (const w of loaded.warnings) out.warn(formatProblem(w, loaded.path));
  const config = loaded.config;
  const profile = options.profile ?? (await readState(installLayout(ctx.home).stateFile))?.profile ?? config.profile;
  const plan = quickPlan(config, profile, ctx.env);
  const docker = await detectDocker({ env: ctx.env, cwd: ctx.home, needCompose: false });
  const local = new Map<string, LocalImage | null>();
  await Promise.all([...new Set(plan.services.map((s) => s.image))].map(async (i) => local.set(i, await inspectLocalImage(docker.engine, i))));
  const rows = imageRows(plan, local);
  if (out.json) {
    out.result({ profile, registry: config.images.registry, version: config.images.version, images: rows });
    return ExitCode.ok;
  }
  const width = Math.max(7, ...rows.map((r) => r.service.length));
  out.print(`images of profile ${profile} (registry ${config.images.registry}, version ${config.images.version}):`);
  for (const r of rows) {
    const state = r.present ? `present ${r.id!.replace(/^sha256:/, '').slice(0, 12)}` : 'missing';
    out.print(`  ${r.service.padEnd(width)}  ${state.padEnd(20)}  ${r.image}${r.digest && !r.pinned ? `  (${r.digest})` : ''}`);
  }
  const missing = rows.filter((r) => !r.present).length;
  if (missing > 0) out.print(`${missing} not on this host: \`msting install\` pulls or builds them`);
  return ExitCode.ok;
}
