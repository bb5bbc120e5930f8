import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { MstingConfig } from '../config/schema.js';
import type { Recommendation } from '../hardware/types.js';
import { readStingSchema } from '../install/source-tree.js';
import { modelsDir } from '../layout.js';
import { modelCommitsFor } from '../models/snapshots.js';
import { renderStack, type RenderedFile } from '../render/render-stack.js';
import { writeRendered, type WriteGuard, type WriteReport } from '../render/write.js';
import { envFilePath, serviceConfigPath, type StackPlan } from '../stack/plan.js';
import type { GatewayGuardDeps } from '../gateway/write-guard.js';
import type { SecretsProvider } from '../stack/secrets.js';
import { withHostSecrets } from '../vault/dev-token.js';

/**
 * The one render every command writes with (`config render`, `start`, `restart`, `install`):
 * the stack rendered from config.yml, rewritten only where something changed. An env file that
 * sets variables this render cannot produce (its secrets are pending: Vault sealed, unreachable
 * or not set up yet) is kept as it is: left unwritten and, through the writer's `keep` list,
 * neither removed as stale nor dropped from the manifest.
 */

export interface RenderStepResult {
  plan: StackPlan;
  report: WriteReport;
  /** Env files kept because the secrets they hold could not be read. */
  kept: string[];
  pendingSecrets: { id: string; services: string[] }[];
}

/** Variable names an env file sets. */
function envNames(content: string): Set<string> {
  return new Set([...content.matchAll(/^([A-Z_][A-Z0-9_]*)=/gm)].map((m) => m[1]!));
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Of the files about to be written, the env files to keep as they are on disk: those of a
 * service with a pending secret whose current file sets a variable the new one would drop.
 */
export async function envFilesToKeep(files: ReadonlyMap<string, RenderedFile>, pendingSecrets: readonly { services: string[] }[], root: string): Promise<string[]> {
  const kept: string[] = [];
  for (const service of new Set(pendingSecrets.flatMap((p) => p.services))) {
    const path = envFilePath(service);
    const next = files.get(path);
    if (!next) continue;
    const current = await readIfExists(join(root, path));
    if (current === undefined) continue;
    const will = envNames(next.content);
    if ([...envNames(current)].some((name) => !will.has(name))) kept.push(path);
  }
  return kept.sort();
}

/** The rendered gateway config, install-relative. */
export const GATEWAY_CONFIG_FILE = serviceConfigPath('llm-gateway', 'nginx.conf');

/** The Docker side of the gateway guard; replaceable in tests. */
export type GatewayGuardAccess = Pick<GatewayGuardDeps, 'listContainers' | 'exec'>;

/** The project's containers and `docker exec`, over the engine the environment names. */
export function engineGuardAccess(project: string, env: NodeJS.ProcessEnv): GatewayGuardAccess {
  return {
    async listContainers() {
      const { createDockerEngine } = await import('../docker/engine.js');
      try {
        return await createDockerEngine(env).listContainers(project);
      } catch (err) {
        // No engine msting can reach: no gateway running there that a new file could disturb.
        const code = (err as { code?: string }).code;
        if (code === 'DOCKER_UNAVAILABLE' || code === 'DOCKER_PERMISSION') return [];
        throw err;
      }
    },
    exec: {
      async exec(container, argv, options) {
        const { createContainerExec } = await import('../docker/container-exec.js');
        return createContainerExec(env).exec(container, argv, options);
      },
    },
  };
}

/**
 * The write guards of a render into the install directory: the gateway's nginx.conf, when this
 * render writes one, goes through the running gateway's `nginx -t` first (see gatewayWriteGuard).
 * Every command that writes rendered files into the install passes these to writeRendered.
 */
export async function renderGuards(input: {
  files: ReadonlyMap<string, RenderedFile>;
  project: string;
  env: NodeJS.ProcessEnv;
  signal?: AbortSignal | undefined;
  access?: GatewayGuardAccess | undefined;
  onGateway?: GatewayGuardDeps['onApplied'];
}): Promise<Map<string, WriteGuard>> {
  const guards = new Map<string, WriteGuard>();
  if (!input.files.has(GATEWAY_CONFIG_FILE)) return guards;
  const { gatewayWriteGuard } = await import('../gateway/write-guard.js');
  const access = input.access ?? engineGuardAccess(input.project, input.env);
  guards.set(
    GATEWAY_CONFIG_FILE,
    gatewayWriteGuard({ ...access, signal: input.signal, ...(input.onGateway ? { onApplied: input.onGateway } : {}) }),
  );
  return guards;
}

export async function renderForStart(input: {
  config: MstingConfig;
  profile: string;
  /** The install directory: where secrets/ is (and where files go unless `output` says otherwise). */
  home: string;
  output?: string | undefined;
  env: NodeJS.ProcessEnv;
  recommendation: Recommendation;
  secrets: SecretsProvider;
  signal: AbortSignal;
  onFile?: (path: string, state: 'written' | 'unchanged' | 'removed') => void;
  /** Docker access for the gateway guard (default: the engine the environment names). */
  gateway?: GatewayGuardAccess | undefined;
  onGateway?: GatewayGuardDeps['onApplied'];
}): Promise<RenderStepResult> {
  const root = input.output ?? input.home;
  const models = modelsDir(input.env, process.platform, homedir());
  const rendered = renderStack({
    config: input.config,
    recommendation: input.recommendation,
    profile: input.profile,
    secrets: await withHostSecrets(input.secrets, input.config, input.home),
    modelsDir: models,
    modelCommits: await modelCommitsFor(input.config, input.profile, models),
    schema: await readStingSchema(input.config),
  });
  const kept = await envFilesToKeep(rendered.files, rendered.pendingSecrets, root);
  const files = new Map<string, RenderedFile>(rendered.files);
  for (const path of kept) files.delete(path);
  // Files rendered elsewhere (--output) are no running gateway's config.
  const guards =
    root === input.home
      ? await renderGuards({ files, project: input.config.project.name, env: input.env, signal: input.signal, access: input.gateway, onGateway: input.onGateway })
      : new Map<string, WriteGuard>();
  const report = await writeRendered(files, root, { signal: input.signal, keep: kept, guards, ...(input.onFile ? { onFile: input.onFile } : {}) });
  return { plan: rendered.plan, report, kept, pendingSecrets: rendered.pendingSecrets };
}

