import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { SwarmEngine, SwarmNode } from '../docker/swarm.js';
import { MstingError } from '../errors.js';
import { writeFileAtomic } from '../files/atomic-write.js';
import { modelsDir } from '../layout.js';
import type { LoadedStack } from '../lifecycle/stack.js';
import { planStart } from '../lifecycle/start.js';
import { renderStack, type RenderedStack } from '../render/render-stack.js';
import { formatShellEnvFile } from '../render/env-format.js';
import { parse as parseYaml } from 'yaml';
import { GPU_NODE_LABEL, SWARM_OVERRIDE_FILE, SWARM_STACK_FILE, type ImageProcess } from '../render/swarm-stack.js';
import { TLS_FILES, envFilePath } from '../stack/plan.js';
import type { SecretsProvider } from '../stack/secrets.js';
import { deployInWaves, type DeployCallbacks, type DeployResult } from './deploy.js';

/**
 * `start` and `update` when config.yml says `orchestrator: swarm`: render the stack with Vault's
 * secrets, create them as Swarm secrets, and deploy the profile's services in dependency order
 * from this manager node. A new or sealed Vault comes first, alone: msting unseals it through its
 * published port (ports.vault, on the manager) and reads the secrets the other services need.
 */

export interface SwarmStartRequest {
  home: string;
  env: NodeJS.ProcessEnv;
  signal: AbortSignal;
  /** Services asked for (and what they need); empty: the whole profile. */
  services: readonly string[];
  timeoutS: number;
  /** One deploy of everything (update: Swarm rolls each changed service) instead of waves. */
  oneWave?: boolean;
}

export interface SwarmStartDeps {
  swarm: SwarmEngine;
  secrets(stack: LoadedStack): Promise<SecretsProvider>;
  /** Unseal Vault once its service runs (the Vault step of `start`). */
  unsealVault(stack: LoadedStack): Promise<void>;
}

export interface SwarmStartCallbacks extends DeployCallbacks {
  onMessage(message: string): void;
  onWarning(message: string): void;
}

/** This engine must be a manager of an active swarm. */
export async function requireManager(swarm: SwarmEngine): Promise<void> {
  const info = await swarm.info();
  if (info.state !== 'active' || !info.manager) {
    throw new MstingError('PREFLIGHT', info.state === 'active' ? 'this Docker engine is a swarm worker; msting deploys from a manager' : 'this Docker engine is not part of a swarm (orchestrator: swarm)', {
      hint: info.state === 'active' ? 'run msting on a manager node' : 'run `docker swarm init` on this host (docs/swarm.md), or set orchestrator: compose in config.yml',
    });
  }
}

/** The generic resource kind the GPU-labelled nodes advertise, such as NVIDIA-GPU; null when none does. */
export function gpuResourceKind(nodes: readonly SwarmNode[]): string | null {
  for (const node of nodes.filter((n) => n.labels[GPU_NODE_LABEL] === 'true')) {
    const gpu = node.genericResources.find((r) => /gpu/i.test(r.kind));
    if (gpu) return gpu.kind;
  }
  return null;
}

async function readHostFile(home: string, path: string): Promise<string | undefined> {
  try {
    return await readFile(join(home, path), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function renderWith(stack: LoadedStack, secrets: SecretsProvider, env: NodeJS.ProcessEnv): RenderedStack {
  return renderStack({
    config: stack.config,
    recommendation: stack.recommendation,
    profile: stack.profile,
    secrets,
    modelsDir: modelsDir(env, process.platform, homedir()),
    modelCommits: stack.modelCommits,
  });
}

function parseOverride(text: string): Record<string, unknown> | null {
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (err) {
    throw new MstingError('CONFIG_INVALID', `${SWARM_OVERRIDE_FILE}: not valid YAML: ${(err as Error).message.split('\n')[0]}`, { hint: 'fix or remove the file' });
  }
  if (value === null || value === undefined) return null;
  if (typeof value !== 'object' || Array.isArray(value)) throw new MstingError('CONFIG_INVALID', `${SWARM_OVERRIDE_FILE}: expected a mapping such as services: {...}`, { hint: 'fix or remove the file' });
  return value as Record<string, unknown>;
}

export async function startSwarm(stack: LoadedStack, request: SwarmStartRequest, deps: SwarmStartDeps, callbacks: SwarmStartCallbacks): Promise<DeployResult> {
  const { swarm } = deps;
  await requireManager(swarm);
  const hasVault = stack.plan.services.some((s) => s.name === 'vault');
  if (hasVault && stack.config.ports.vault === undefined && !request.env.VAULT_ADDR) {
    throw new MstingError('PREFLIGHT', 'orchestrator swarm: msting reaches Vault through its published port, and ports.vault is not set', {
      hint: 'set ports.vault (msting config set ports.vault 8200): Vault is published on the manager node only; firewall that port, or set VAULT_ADDR to an https:// address',
    });
  }
  const nodes = await swarm.listNodes();
  const gpuResource = gpuResourceKind(nodes);
  if (stack.plan.services.some((s) => s.group === 'model') && !nodes.some((n) => n.labels[GPU_NODE_LABEL] === 'true')) {
    callbacks.onWarning(`no node is labelled ${GPU_NODE_LABEL}=true: the model services stay pending until one is (msting swarm label NODE --gpu)`);
  }

  const overrideText = await readHostFile(request.home, SWARM_OVERRIDE_FILE);
  const override = overrideText === undefined ? null : parseOverride(overrideText);
  let rendered = renderWith(stack, await deps.secrets(stack), request.env);
  const wanted = planStart(rendered.plan, request.services);
  const host = new Map<string, string>();
  for (const path of [TLS_FILES.cert, TLS_FILES.key, ...rendered.plan.services.flatMap((s) => (s.vaultTokenFile ? [s.vaultTokenFile] : []))]) {
    const content = await readHostFile(request.home, path);
    if (content !== undefined) host.set(path, content);
  }
  const images = new Map<string, ImageProcess | undefined>();
  for (const s of rendered.plan.services) {
    if (s.entrypoint === null && !images.has(s.image)) images.set(s.image, await swarm.imageProcess(s.image));
  }
  const deployDeps = (current: RenderedStack) => ({
    swarm,
    env: request.env,
    signal: request.signal,
    contentOf: swarmContent(current, host),
    writeStackFile: async (content: string) => {
      const path = join(request.home, SWARM_STACK_FILE);
      await writeFileAtomic(path, content, { mode: 0o644 });
      return path;
    },
  });
  const renderInput = (current: RenderedStack) => ({
    plan: current.plan,
    home: request.home,
    rendered: [...current.files.keys()],
    envFiles: new Set(current.plan.services.filter((s) => current.files.has(envFilePath(s.name))).map((s) => s.name)),
    contentOf: swarmContent(current, host),
    imageProcess: (image: string) => images.get(image),
    gpuResource,
    routingMesh: stack.config.swarm.routing_mesh,
    override,
  });

  const vaultWanted = wanted.items.some((i) => i.service === 'vault');
  if (vaultWanted) {
    // Vault alone first whenever secrets are missing (a new or sealed Vault): nothing else may be
    // deployed from an env file its secrets have not reached.
    if (rendered.pendingSecrets.length > 0) {
      callbacks.onMessage('Vault first: the other services need the secrets it holds');
      const first = await deployInWaves({ plan: rendered.plan, render: renderInput(rendered), waves: [['vault']], timeoutS: request.timeoutS }, deployDeps(rendered), callbacks);
      if (first.failed.length > 0) return first;
    }
    await deps.unsealVault(stack);
    rendered = renderWith(stack, await deps.secrets(stack), request.env);
    for (const path of rendered.plan.services.flatMap((s) => (s.vaultTokenFile ? [s.vaultTokenFile] : []))) {
      const content = await readHostFile(request.home, path);
      if (content !== undefined) host.set(path, content);
    }
    if (rendered.pendingSecrets.length > 0) {
      throw new MstingError('EXTERNAL', `Vault runs but holds no value yet for ${rendered.pendingSecrets.map((p) => p.id).join(', ')}; only Vault was deployed`, {
        hint: 'run `msting vault init` (a new Vault), then `msting start` again',
      });
    }
  }
  for (const w of rendered.plan.warnings) callbacks.onWarning(w);
  const waves = request.oneWave ? [wanted.layers.flat()] : wanted.layers;
  const resolveImage = request.oneWave ? 'always' : 'changed';
  return deployInWaves({ plan: rendered.plan, render: renderInput(rendered), waves, timeoutS: request.timeoutS, resolveImage }, deployDeps(rendered), callbacks);
}

/**
 * What a Swarm secret or config holds for a rendered path: env files in the form the service's
 * shell wrapper sources (every value single-quoted), everything else as rendered.
 */
function swarmContent(current: RenderedStack, host: ReadonlyMap<string, string>): (path: string) => string | undefined {
  return (path) => {
    const content = current.files.get(path)?.content ?? host.get(path);
    return content !== undefined && path.startsWith('env/') && path.endsWith('.env') ? formatShellEnvFile(content) : content;
  };
}
