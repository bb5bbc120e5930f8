import { homedir } from 'node:os';
import type { MstingConfig } from '../config/schema.js';
import type { Context } from '../context.js';
import { detectDocker, type DockerSetup } from '../docker/detect.js';
import type { DockerEngine } from '../docker/engine.js';
import { MstingError } from '../errors.js';
import { cpuFallbackRecommendation, type Recommendation } from '../hardware/types.js';
import { modelsDir } from '../layout.js';
import { resolveProfileServices, type StackPlan } from '../stack/plan.js';
import type { SecretsProvider } from '../stack/secrets.js';
import { checkPorts, type PortReport } from './ports.js';
import { renderForStart, type RenderStepResult } from './render-step.js';
import { downloadCommand, findMissingFiles, findMissingModels } from './required-files.js';
import type { LoadedStack } from './stack.js';
import { executeStart, planStart, type StartHooks, type StartPlan, type StartResult, type StartState } from './start.js';
import { vaultStartHooks, type VaultStepInput } from './vault-step.js';

/**
 * Starting the stack as `start`, `restart` and `restore` do: ports, render, the files and models
 * the services mount, then the start executor with the Vault step. It prints nothing; the
 * command binds the callbacks to its output.
 */

/** Outside things the start needs, replaceable in tests. */
export interface StartAdapters {
  /** Secrets for the first render: Vault's when it already serves, else none (env files kept). */
  secrets(config: MstingConfig): Promise<SecretsProvider>;
  recommendation(config: MstingConfig): Promise<Recommendation>;
  /** The Vault step: unseal Vault once it runs, then render again with its secrets. */
  hooks(input: VaultStepInput): StartHooks;
}

export interface StartRequest {
  home: string;
  env: NodeJS.ProcessEnv;
  signal: AbortSignal;
  services: readonly string[];
  timeoutS: number;
}

export interface StartCallbacks {
  onRendered(rendered: RenderStepResult): void;
  onGateway: NonNullable<Parameters<typeof renderForStart>[0]['onGateway']>;
  onWarning(message: string): void;
  onVaultMessage(message: string): void;
  onComposeLine(line: string): void;
  /** A start phase begins (Vault alone first, when its secrets are still pending): where its service states go. */
  onPhase(plan: StartPlan): { onState(service: string, state: StartState, detail?: string): void; close(): void };
}

/** The machine's recommendation (hardware snapshot), the same one `status` and `config render` plan with. */
async function probeRecommendation(config: MstingConfig, ctx: Pick<Context, 'home' | 'env'>): Promise<Recommendation> {
  const { machineRecommendation } = await import('../hardware/snapshot.js');
  return machineRecommendation(config, ctx.home, ctx.env);
}

/** The engine and compose a start needs, checked (engine answers, Compose v2 installed). */
export function startDocker(ctx: Pick<Context, 'env' | 'home'>): Promise<DockerSetup> {
  return detectDocker({ env: ctx.env, cwd: ctx.home, needCompose: true });
}

/** The real adapters: Vault's secrets when it serves, the machine's recommendation, the Vault step. */
export function startAdapters(ctx: Pick<Context, 'env' | 'home'>, onDebug: (message: string) => void): StartAdapters {
  return {
    secrets: async (config) => {
      const { renderSecretsFromVault } = await import('../vault/render-secrets.js');
      return renderSecretsFromVault(config, { home: ctx.home, env: ctx.env }, (reason) => onDebug(`Vault secrets not read before start: ${reason}`));
    },
    recommendation: (config) => probeRecommendation(config, ctx),
    hooks: (input) => vaultStartHooks(input),
  };
}

/**
 * The part `start`, `restart` and `restore` share: render (with Vault's secrets when it serves),
 * plan, check the mounted files, and start with the Vault step. Returns the plan of the phase
 * that ended it with its result; the command reports it.
 */
export async function renderAndStart(
  stack: LoadedStack,
  docker: DockerSetup,
  request: StartRequest,
  deps: StartAdapters,
  callbacks: StartCallbacks,
): Promise<{ plan: StartPlan; result: StartResult }> {
  const runsModels = resolveProfileServices(stack.config, stack.profile).includes('llm-gateway');
  const recommendation = runsModels ? await deps.recommendation(stack.config) : cpuFallbackRecommendation(stack.config.llm.models);
  const rendered = await renderForStart({
    config: stack.config,
    profile: stack.profile,
    home: request.home,
    env: request.env,
    recommendation,
    secrets: await deps.secrets(stack.config),
    signal: request.signal,
    onGateway: callbacks.onGateway,
  });
  callbacks.onRendered(rendered);
  for (const warning of rendered.plan.warnings) callbacks.onWarning(warning);

  const plan = planStart(rendered.plan, request.services);
  await requiredFilesOrThrow(rendered.plan, request.home, plan);
  await modelsOrThrow(rendered.plan, stack.config, modelsDir(request.env, process.platform, homedir()), plan);
  const hooks = deps.hooks({
    config: stack.config,
    profile: stack.profile,
    home: request.home,
    env: request.env,
    signal: request.signal,
    recommendation,
    onMessage: callbacks.onVaultMessage,
    onWarning: callbacks.onWarning,
    onRendered: callbacks.onRendered,
  });
  // Env files still missing secrets (Vault not read yet): start Vault alone first, so that no
  // service is created from a file its secrets have not reached; the Vault step renders them.
  const others = plan.items.filter((i) => i.service !== 'vault');
  if (rendered.pendingSecrets.length > 0 && others.length > 0 && plan.items.some((i) => i.service === 'vault')) {
    const vaultPlan = planStart(rendered.plan, ['vault']);
    const first = await startPhase(vaultPlan, { ...docker, project: stack.project }, request, hooks, callbacks);
    if (first.failed.length > 0) return { plan: vaultPlan, result: first };
  }
  const result = await startPhase(plan, { ...docker, project: stack.project }, request, hooks, callbacks);
  return { plan, result };
}

/** Run a start plan, its service states going where the command's phase callback says. */
async function startPhase(plan: StartPlan, deps: Parameters<typeof executeStart>[1], request: StartRequest, hooks: StartHooks, callbacks: StartCallbacks): Promise<StartResult> {
  const progress = callbacks.onPhase(plan);
  try {
    return await executeStart(plan, deps, {
      timeoutS: request.timeoutS,
      signal: request.signal,
      hooks,
      onState: (service, state, detail) => progress.onState(service, state, detail),
      onComposeLine: callbacks.onComposeLine,
    });
  } finally {
    progress.close();
  }
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
export async function portsOrThrow(stack: Pick<LoadedStack, 'plan' | 'project'>, engine: DockerEngine): Promise<PortReport> {
  const report = await portReport(stack, engine);
  if (!report.ok) {
    throw new MstingError('PORT_CONFLICT', `${report.conflicts.length} host port conflict${report.conflicts.length === 1 ? '' : 's'}; nothing was started`, {
      details: report.conflicts.map((c) => c.message),
      hint: 'change the ports named above in config.yml (msting config set ports.<key> <port>), or free them; `msting check-ports` checks again',
    });
  }
  return report;
}

export async function portReport(stack: Pick<LoadedStack, 'plan' | 'project'>, engine: DockerEngine): Promise<PortReport> {
  const [own, running] = await Promise.all([engine.listContainers(stack.project.name), engine.listRunningContainers()]);
  const ownIds = new Set(own.map((c) => c.id));
  const endpoint = engine.endpoint;
  const local = endpoint.kind === 'unix' || (endpoint.kind === 'tcp' && ['localhost', '127.0.0.1', '::1'].includes(endpoint.host));
  return checkPorts({ plan: stack.plan, ownContainers: own, otherContainers: running.filter((c) => !ownIds.has(c.id)), bindLocally: local });
}
