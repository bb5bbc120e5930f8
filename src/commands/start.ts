import { homedir } from 'node:os';
import type { MstingConfig } from '../config/schema.js';
import type { Context } from '../context.js';
import { detectDocker, type DockerSetup } from '../docker/detect.js';
import type { DockerEngine } from '../docker/engine.js';
import { ExitCode, MstingError } from '../errors.js';
import { cpuFallbackRecommendation, type Recommendation } from '../hardware/types.js';
import { modelsDir } from '../layout.js';
import { checkPorts, type PortReport } from '../lifecycle/ports.js';
import { renderForStart, type RenderStepResult } from '../lifecycle/render-step.js';
import { vaultStartHooks, type VaultStepInput } from '../lifecycle/vault-step.js';
import { loadStack, type LoadedStack } from '../lifecycle/stack.js';
import { executeStart, FINAL_OK, planStart, type StartHooks, type StartPlan, type StartResult } from '../lifecycle/start.js';
import { resolveProfileServices, type StackPlan } from '../stack/plan.js';
import { downloadCommand, findMissingFiles, findMissingModels } from '../lifecycle/required-files.js';
import type { SecretsProvider } from '../stack/secrets.js';
import { ServiceProgress } from '../ui/progress.js';
import { gatewayGuardMessage } from '../gateway/write-guard.js';

export interface StartCommandOptions {
  services: string[];
  profile?: string | undefined;
  /** Seconds to wait for every service to reach its target. */
  timeout: number;
}

/** Outside things `start` needs, replaceable in tests. */
export interface StartCommandDeps {
  docker(ctx: Context, needCompose: boolean): Promise<DockerSetup>;
  /** Secrets for the first render: Vault's when it already serves, else none (env files kept). */
  secrets(config: MstingConfig, ctx: Context): Promise<SecretsProvider>;
  recommendation(config: MstingConfig, ctx: Context): Promise<Recommendation>;
  /** The Vault step: unseal Vault once it runs, then render again with its secrets. */
  hooks(input: VaultStepInput): StartHooks;
}

/** The machine's recommendation (hardware snapshot), the same one `status` and `config render` plan with. */
async function probeRecommendation(config: MstingConfig, ctx: Context): Promise<Recommendation> {
  const { machineRecommendation } = await import('../hardware/snapshot.js');
  return machineRecommendation(config, ctx.home, ctx.env);
}

export const defaultDeps: StartCommandDeps = {
  docker: (ctx, needCompose) => detectDocker({ env: ctx.env, cwd: ctx.home, needCompose }),
  secrets: async (config, ctx) => {
    const { renderSecretsFromVault } = await import('../vault/render-secrets.js');
    return renderSecretsFromVault(config, { home: ctx.home, env: ctx.env }, (reason) => ctx.out.debug(`Vault secrets not read before start: ${reason}`));
  },
  recommendation: probeRecommendation,
  hooks: (input) => vaultStartHooks(input),
};

/** Lines of a failing service's log shown when start gives up. */
export const FAILURE_LOG_LINES = 40;

/**
 * `msting start [SERVICE...]`: check ports, render what changed, then start the profile's
 * services in dependency order and wait for each (healthy, running, or completed for one-shot
 * jobs). Once Vault runs it is unsealed and the env files are rendered again with its secrets,
 * before anything that depends on it starts. On failure: the failing services' last log lines,
 * what they depend on, exit 5, and everything left in place for inspection.
 */
export async function run(options: StartCommandOptions, ctx: Context, deps: StartCommandDeps = defaultDeps): Promise<number> {
  const stack = await loadStack(ctx, { profile: options.profile });
  const docker = await deps.docker(ctx, true);
  await portsOrThrow(stack, docker.engine);
  return renderAndStart(stack, docker, ctx, { services: options.services, timeoutS: options.timeout, verb: 'start' }, deps);
}

/**
 * The part `start`, `restart` and `restore` share: render (with Vault's secrets when it serves),
 * plan, check the mounted files, start with the Vault step, and report.
 */
export async function renderAndStart(
  stack: LoadedStack,
  docker: DockerSetup,
  ctx: Context,
  options: { services: readonly string[]; timeoutS: number; verb: 'start' | 'restart' },
  deps: StartCommandDeps = defaultDeps,
): Promise<number> {
  const runsModels = resolveProfileServices(stack.config, stack.profile).includes('llm-gateway');
  const recommendation = runsModels ? await deps.recommendation(stack.config, ctx) : cpuFallbackRecommendation(stack.config.llm.models);
  const rendered = await renderForStart({
    config: stack.config,
    profile: stack.profile,
    home: ctx.home,
    env: ctx.env,
    recommendation,
    secrets: await deps.secrets(stack.config, ctx),
    signal: ctx.signal,
    onGateway: (r) => reportGateway(r, ctx),
  });
  reportRender(rendered, ctx);
  for (const warning of rendered.plan.warnings) ctx.out.warn(warning);

  const plan = planStart(rendered.plan, options.services);
  await requiredFilesOrThrow(rendered.plan, ctx.home, plan);
  await modelsOrThrow(rendered.plan, stack.config, modelsDir(ctx.env, process.platform, homedir()), plan);
  const hooks = deps.hooks({
    config: stack.config,
    profile: stack.profile,
    home: ctx.home,
    env: ctx.env,
    signal: ctx.signal,
    recommendation,
    onMessage: (m) => (ctx.out.json ? ctx.out.event({ event: 'vault', message: m, at: new Date().toISOString() }) : ctx.out.info(`vault: ${m}`)),
    onWarning: (m) => ctx.out.warn(m),
    onRendered: (r) => reportRender(r, ctx),
  });
  // Env files still missing secrets (Vault not read yet): start Vault alone first, so that no
  // service is created from a file its secrets have not reached; the Vault step renders them.
  const others = plan.items.filter((i) => i.service !== 'vault');
  if (rendered.pendingSecrets.length > 0 && others.length > 0 && plan.items.some((i) => i.service === 'vault')) {
    const vaultPlan = planStart(rendered.plan, ['vault']);
    const first = await startWithProgress(vaultPlan, { ...docker, project: stack.project }, ctx, options.timeoutS, hooks);
    if (first.failed.length > 0) return finishStart(vaultPlan, first, docker.engine, ctx, options.verb);
  }
  const result = await startWithProgress(plan, { ...docker, project: stack.project }, ctx, options.timeoutS, hooks);
  return finishStart(plan, result, docker.engine, ctx, options.verb);
}

function reportGateway(result: Parameters<typeof gatewayGuardMessage>[0], ctx: Context): void {
  const message = gatewayGuardMessage(result);
  if (message !== null) ctx.out.info(message);
}

function reportRender(rendered: RenderStepResult, ctx: Context): void {
  if (rendered.report.written.length + rendered.report.removed.length > 0) {
    ctx.out.info(`rendered: ${[...rendered.report.written, ...rendered.report.removed.map((p) => `${p} (removed)`)].join(', ')}`);
  }
  for (const path of rendered.kept) ctx.out.debug(`kept ${path}: it holds secrets this render could not read`);
}

/** Refuse to start when a file the stack mounts is missing: exit 4, naming what creates it. */
export async function requiredFilesOrThrow(stack: StackPlan, home: string, plan: StartPlan): Promise<void> {
  const missing = await findMissingFiles(stack, home, new Set(plan.items.map((i) => i.service)));
  if (missing.length > 0) {
    throw new MstingError('PREFLIGHT', `${missing.length} file${missing.length === 1 ? '' : 's'} the stack mounts ${missing.length === 1 ? 'is' : 'are'} missing; nothing was started`, {
      details: missing.map((m) => `${m.path} (for ${m.service}): ${m.hint}`),
      hint: 'run `msting install` to set everything up, or the commands named above',
    });
  }
}

/** Refuse to start a model service whose model is not downloaded: exit 4, naming the command that fetches it. */
export async function modelsOrThrow(stack: StackPlan, config: MstingConfig, dir: string, plan: StartPlan): Promise<void> {
  const missing = await findMissingModels(stack, config.llm.models, dir, new Set(plan.items.map((i) => i.service)));
  if (missing.length === 0) return;
  const one = missing.length === 1;
  throw new MstingError('PREFLIGHT', `${one ? `model ${missing[0]!.model} is` : `${missing.length} models are`} not downloaded; nothing was started`, {
    details: missing.map(
      (m) => `${m.model} (${m.repo}@${m.revision}, for ${m.services.join(', ')}): ${m.state === 'partial' ? 'partly downloaded' : 'not in'} ${dir}`,
    ),
    hint: `run \`${downloadCommand(missing)}\`, or start a profile without models (--profile default)`,
  });
}

/** Refuse to start when a port is taken: exit 4 with the config key to change. */
export async function portsOrThrow(stack: LoadedStack, engine: DockerEngine): Promise<PortReport> {
  const report = await portReport(stack, engine);
  if (!report.ok) {
    throw new MstingError('PORT_CONFLICT', `${report.conflicts.length} host port conflict${report.conflicts.length === 1 ? '' : 's'}; nothing was started`, {
      details: report.conflicts.map((c) => c.message),
      hint: 'change the ports named above in config.yml (msting config set ports.<key> <port>), or free them; `msting check-ports` checks again',
    });
  }
  return report;
}

export async function portReport(stack: LoadedStack, engine: DockerEngine): Promise<PortReport> {
  const [own, running] = await Promise.all([engine.listContainers(stack.project.name), engine.listRunningContainers()]);
  const ownIds = new Set(own.map((c) => c.id));
  const endpoint = engine.endpoint;
  const local = endpoint.kind === 'unix' || (endpoint.kind === 'tcp' && ['localhost', '127.0.0.1', '::1'].includes(endpoint.host));
  return checkPorts({ plan: stack.plan, ownContainers: own, otherContainers: running.filter((c) => !ownIds.has(c.id)), bindLocally: local });
}

/** Run a start plan, showing each service's state as it changes. */
export async function startWithProgress(
  plan: StartPlan,
  deps: Parameters<typeof executeStart>[1],
  ctx: Context,
  timeoutS: number,
  hooks: StartHooks = {},
): Promise<StartResult> {
  const progress = new ServiceProgress(ctx.out, plan.items.map((i) => i.service), isFinalState, 'waiting for health');
  try {
    return await executeStart(plan, deps, {
      timeoutS,
      signal: ctx.signal,
      hooks,
      onState: (service, state, detail) => progress.update(service, state, detail),
      onComposeLine: (line) => ctx.out.debug(`compose: ${line}`),
    });
  } finally {
    progress.close();
  }
}

/** The end of start/restart: say what happened; on failure show logs and exit 5. */
export async function finishStart(plan: StartPlan, result: StartResult, engine: DockerEngine, ctx: Context, verb: 'start' | 'restart'): Promise<number> {
  const { out } = ctx;
  if (result.failed.length === 0) {
    const summary = { event: 'summary', ok: true, changed: result.changed, services: result.outcomes.length, at: new Date().toISOString() };
    if (out.json) out.event(summary);
    else if (!result.changed) out.print(`already running: all ${result.outcomes.length} services of profile ${plan.profile} are up; nothing changed`);
    else {
      const acted = result.outcomes.filter((o) => o.acted).length;
      const slowest = Math.max(0, ...result.outcomes.map((o) => o.elapsedMs));
      out.print(`${verb === 'start' ? 'started' : 'restarted'} ${acted} service${acted === 1 ? '' : 's'} of profile ${plan.profile} in ${(slowest / 1000).toFixed(1)} s; all ${result.outcomes.length} are up`);
    }
    return ExitCode.ok;
  }

  const failed = result.outcomes.filter((o) => o.state === 'failed');
  const skipped = result.outcomes.filter((o) => o.state === 'skipped');
  const states = new Map(result.outcomes.map((o) => [o.service, o.state]));
  const containers = new Map((await engine.listContainers(plan.project)).map((c) => [c.service, c]));
  for (const outcome of failed) {
    const item = plan.items.find((i) => i.service === outcome.service)!;
    const container = containers.get(outcome.service);
    const lines: string[] = [];
    if (container) {
      const controller = new AbortController();
      for await (const line of engine.logs(container.id, { follow: false, tail: FAILURE_LOG_LINES }, controller.signal)) lines.push(line.text);
    }
    const dependsOn = item.dependsOn.map((d) => ({ service: d.service, condition: d.condition, state: states.get(d.service) ?? 'waiting' }));
    if (out.json) {
      out.event({ event: 'failure', service: outcome.service, detail: outcome.detail ?? null, depends_on: dependsOn, logs: lines, at: new Date().toISOString() });
      continue;
    }
    out.info('');
    out.info(out.paint('red', `✖ ${outcome.service}: ${outcome.detail ?? 'failed'}`));
    out.info(`  depends on: ${dependsOn.length === 0 ? 'nothing' : dependsOn.map((d) => `${d.service} (${d.state})`).join(', ')}`);
    out.info(`  last ${FAILURE_LOG_LINES} log lines${container ? ` of ${container.name}` : ''}:`);
    if (lines.length === 0) out.info('    (no output)');
    for (const line of lines) out.info(`    ${line}`);
  }
  const names = failed.map((o) => o.service);
  throw new MstingError(
    'EXTERNAL',
    `${names.length} service${names.length === 1 ? '' : 's'} did not come up: ${names.join(', ')}${skipped.length > 0 ? ` (not started because of it: ${skipped.map((o) => o.service).join(', ')})` : ''}`,
    {
      hint: `containers and volumes were left for inspection: \`msting logs ${names[0] ?? ''}\`, \`msting status\`; after fixing, run \`msting ${verb}\` again`,
    },
  );
}

/** The states after which a service's clock stops. */
const FINAL_STATES: ReadonlySet<string> = new Set<string>([...FINAL_OK, 'failed', 'skipped']);
const isFinalState = (state: string): boolean => FINAL_STATES.has(state);
