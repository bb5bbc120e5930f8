import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadConfig } from '../config/load.js';
import { formatProblem } from '../config/problems.js';
import type { MstingConfig } from '../config/schema.js';
import type { Context } from '../context.js';
import { ExitCode } from '../errors.js';
import { cpuFallbackRecommendation, type Recommendation } from '../hardware/types.js';
import { modelsDir } from '../layout.js';
import { renderStack, type RenderedFile } from '../render/render-stack.js';
import { writeRendered } from '../render/write.js';
import { envFilePath, resolveProfileServices } from '../stack/plan.js';
import { NO_SECRETS, type SecretsProvider } from '../stack/secrets.js';

export interface ConfigRenderOptions {
  profile?: string | undefined;
  output?: string | undefined;
}

/** What `config render --json` prints. */
export interface ConfigRenderJson {
  profile: string;
  output: string;
  services: string[];
  written: string[];
  unchanged: string[];
  removed: string[];
  /** Env files left as they were because they hold secrets this render could not read. */
  kept: string[];
  pendingSecrets: { id: string; services: string[] }[];
  warnings: string[];
}

/** Outside things the command needs, replaceable in tests. */
export interface ConfigRenderDeps {
  secrets(config: MstingConfig, ctx: Context): Promise<SecretsProvider>;
  recommendation(config: MstingConfig, ctx: Context): Promise<Recommendation>;
}

/** The machine's recommendation; only asked for when the profile runs model services. */
async function probeRecommendation(config: MstingConfig, ctx: Context): Promise<Recommendation> {
  const [{ probeHardware }, { createSystemProbeDeps }, { recommend }] = await Promise.all([
    import('../hardware/probe.js'),
    import('../hardware/system-probe.js'),
    import('../hardware/recommend.js'),
  ]);
  return recommend(await probeHardware(createSystemProbeDeps(ctx.env)), config);
}

export const defaultDeps: ConfigRenderDeps = {
  // Secrets come from Vault once it is initialised and unsealed; until then they are pending.
  secrets: async () => NO_SECRETS,
  recommendation: probeRecommendation,
};

/** Variable names set in an env file; empty when there is none. */
async function envNames(path: string): Promise<Set<string>> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return new Set([...text.matchAll(/^([A-Z_][A-Z0-9_]*)=/gm)].map((m) => m[1]!));
}

/**
 * `msting config render`: write the compose file, env files and service configs for a profile,
 * without starting anything. Files that did not change are not rewritten.
 */
export async function run(options: ConfigRenderOptions, ctx: Context, deps: ConfigRenderDeps = defaultDeps): Promise<number> {
  const loaded = await loadConfig({ configPath: ctx.configPath, configExplicit: ctx.configExplicit, env: ctx.env, profile: options.profile });
  for (const warning of loaded.warnings) ctx.out.warn(formatProblem(warning, loaded.path));
  const config = loaded.config;
  const profile = options.profile ?? config.profile;
  const output = options.output ? resolve(options.output) : ctx.home;

  // Hardware matters only when the profile runs the LLM services.
  const runsModels = resolveProfileServices(config, profile).includes('llm-gateway');
  const recommendation = runsModels ? await deps.recommendation(config, ctx) : cpuFallbackRecommendation([]);
  const secrets = await deps.secrets(config, ctx);
  const rendered = renderStack({
    config,
    recommendation,
    profile,
    secrets,
    modelsDir: modelsDir(ctx.env, process.platform, homedir()),
  });

  // Never replace a working env file by one that drops variables it has (its secrets, when
  // Vault is sealed or unreachable): keep the file as it is and say so.
  const files = new Map<string, RenderedFile>(rendered.files);
  const kept: string[] = [];
  const pendingServices = new Set(rendered.pendingSecrets.flatMap((p) => p.services));
  for (const service of pendingServices) {
    const path = envFilePath(service);
    const next = files.get(path);
    if (!next) continue;
    const had = await envNames(join(output, path));
    const will = new Set([...next.content.matchAll(/^([A-Z_][A-Z0-9_]*)=/gm)].map((m) => m[1]!));
    if ([...had].some((name) => !will.has(name))) {
      files.delete(path);
      kept.push(path);
    }
  }

  const report = await writeRendered(files, output, {
    signal: ctx.signal,
    keep: kept,
    onFile: (path, state) => {
      if (state !== 'unchanged') ctx.out.debug(`${state}: ${path}`);
    },
  });
  const warnings = [...rendered.plan.warnings];

  if (ctx.out.json) {
    const doc: ConfigRenderJson = {
      profile,
      output,
      services: rendered.plan.services.map((s) => s.name),
      written: report.written,
      unchanged: report.unchanged,
      removed: report.removed,
      kept: kept.sort(),
      pendingSecrets: rendered.pendingSecrets,
      warnings,
    };
    ctx.out.result(doc);
    return ExitCode.ok;
  }

  for (const warning of warnings) ctx.out.warn(warning);
  for (const path of kept) ctx.out.warn(`kept ${path} as it was: it holds secrets this render could not read, so its other settings may be stale`);
  if (rendered.pendingSecrets.length > 0) {
    const n = rendered.pendingSecrets.length;
    ctx.out.warn(
      `${n} secret${n === 1 ? '' : 's'} pending (${rendered.pendingSecrets.map((p) => p.id).join(', ')}): run \`msting vault init\` or \`msting install\`, then render again`,
    );
  }
  for (const path of report.written) ctx.out.info(`  wrote ${path}`);
  for (const path of report.removed) ctx.out.info(`  removed ${path}`);
  const summary = `${report.written.length} written, ${report.unchanged.length} unchanged${report.removed.length ? `, ${report.removed.length} removed` : ''}`;
  ctx.out.print(`rendered profile ${profile} (${rendered.plan.services.length} services) into ${output}: ${summary}`);
  return ExitCode.ok;
}
