import { resolve } from 'node:path';
import { formatProblem } from '../config/problems.js';
import type { MstingConfig } from '../config/schema.js';
import type { Context } from '../context.js';
import { ExitCode } from '../errors.js';
import { cpuFallbackRecommendation, type Recommendation } from '../hardware/types.js';
import { gatewayGuardMessage } from '../gateway/write-guard.js';
import { renderForStart, type GatewayGuardAccess } from '../lifecycle/render-step.js';
import { loadValidatedConfig } from '../lifecycle/config-cache.js';
import { resolveProfileServices } from '../stack/plan.js';
import type { SecretsProvider } from '../stack/secrets.js';

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
  /** Docker access for checking the running gateway's new config (default: the engine the environment names). */
  gateway?: (config: MstingConfig, ctx: Context) => GatewayGuardAccess;
}

/** The machine's recommendation; only asked for when the profile runs model services. */
async function probeRecommendation(config: MstingConfig, ctx: Context): Promise<Recommendation> {
  const { machineRecommendation } = await import('../hardware/snapshot.js');
  return machineRecommendation(config, ctx.home, ctx.env);
}

export const defaultDeps: ConfigRenderDeps = {
  // Secrets come from Vault when it is reachable and unsealed; until then they are pending and
  // the env files that hold them are kept.
  secrets: async (config, ctx) => {
    const { renderSecretsFromVault } = await import('../vault/render-secrets.js');
    return renderSecretsFromVault(config, ctx, (reason) => ctx.out.debug(`Vault secrets not read: ${reason}`));
  },
  recommendation: probeRecommendation,
};

/**
 * `msting config render`: write the compose file, env files and service configs for a profile,
 * without starting anything. Files that did not change are not rewritten.
 */
export async function run(options: ConfigRenderOptions, ctx: Context, deps: ConfigRenderDeps = defaultDeps): Promise<number> {
  // The validated config of the last run is reused while config.yml and its inputs are unchanged.
  const loaded = await loadValidatedConfig(ctx, options.profile);
  for (const warning of loaded.warnings) ctx.out.warn(formatProblem(warning, ctx.configPath));
  const config = loaded.config;
  const profile = options.profile ?? config.profile;
  const output = options.output ? resolve(options.output) : ctx.home;

  // Hardware matters only when the profile runs the LLM services.
  const runsModels = resolveProfileServices(config, profile).includes('llm-gateway');
  const recommendation = runsModels ? await deps.recommendation(config, ctx) : cpuFallbackRecommendation([]);
  const secrets = await deps.secrets(config, ctx);
  const rendered = await renderForStart({
    config,
    profile,
    home: ctx.home,
    output,
    env: ctx.env,
    recommendation,
    secrets,
    signal: ctx.signal,
    onFile: (path, state) => {
      if (state !== 'unchanged') ctx.out.debug(`${state}: ${path}`);
    },
    gateway: deps.gateway?.(config, ctx),
    onGateway: (result) => {
      const message = gatewayGuardMessage(result);
      if (message !== null) ctx.out.info(message);
    },
  });
  const { report, kept } = rendered;
  const warnings = [...rendered.plan.warnings];

  if (ctx.out.json) {
    const doc: ConfigRenderJson = {
      profile,
      output,
      services: rendered.plan.services.map((s) => s.name),
      written: report.written,
      unchanged: report.unchanged,
      removed: report.removed,
      kept,
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
