import { compareText } from '../compare.js';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { MstingConfig } from '../config/schema.js';
import { TEMPLATE_FILE } from '../config/template.js';
import { VAULT_REF } from '../config/vault-ref.js';
import { resolveVaultRefs } from '../config/vault-refs.js';
import type { Recommendation } from '../hardware/types.js';
import { RENDER_PATHS, envFilePath, planStack, serviceConfigPath, type StackPlan } from '../stack/plan.js';
import type { SecretsProvider } from '../stack/secrets.js';
import { renderComposeFile } from './compose.js';
import { renderEnvFiles, type PendingSecret } from './env-files.js';
import { renderFrontendEnvJs, renderFrontendNginx } from './frontend-nginx.js';
import { renderGatewayNginx } from './gateway.js';
import { renderIdentitySchema, renderKratosConfig } from './kratos.js';
import { renderChromaLogConfig, renderGrafanaDashboardProvider, renderGrafanaDashboards, renderGrafanaDatasources, renderLogForwarderConfig, renderLokiConfig, renderPromtailConfig } from './observability.js';
import { renderPostgresInit, type StingSchema } from './postgres.js';
import { renderVaultConfig } from './vault.js';

/**
 * Everything `config render` writes, as data: install-relative path → content and mode.
 * Pure and deterministic: no clock, no randomness, no file system, keys sorted.
 */

export interface RenderedFile {
  content: string;
  /** Final file mode: 0o600 for env files (secrets), 0o644 otherwise. */
  mode: number;
  /** Whether the file holds secret values (env files). */
  secret: boolean;
}

export interface RenderInput {
  config: MstingConfig;
  recommendation: Recommendation;
  profile: string;
  secrets: SecretsProvider;
  /** Absolute host directory of the downloaded models. */
  modelsDir: string;
  /** Model name → commit of its downloaded snapshot (see PlanOptions.modelCommits). */
  modelCommits?: ReadonlyMap<string, string> | undefined;
  /**
   * STING-CE's database schema read from `images.source_dir` (install/source-tree.ts), rendered
   * into the database's init files; null when config names no source tree.
   */
  schema?: StingSchema | null;
}

export interface RenderedStack {
  plan: StackPlan;
  /** Install-relative posix path → file, sorted by path. */
  files: Map<string, RenderedFile>;
  /** Secrets (and config vault-refs) with no value yet: left out of the env files. */
  pendingSecrets: PendingSecret[];
}

/** Directory modes of what rendering creates. */
export const RENDER_DIR_MODES: Record<string, number> = { [RENDER_PATHS.envDir]: 0o700 };

const PUBLIC = 0o644;
const SECRET = 0o600;

/** Replace refs the provider could not answer with the field's default, reporting them pending. */
function withoutUnresolvedRefs(config: MstingConfig, secrets: SecretsProvider): { config: MstingConfig; pending: PendingSecret[] } {
  const { config: resolved, unresolved } = resolveVaultRefs(config, secrets);
  if (unresolved.length === 0) return { config: resolved, pending: [] };
  // The starter file holds exactly the schema's defaults (a config test keeps them equal); reading
  // it avoids loading the schema library on every render.
  const defaults = parseYaml(readFileSync(TEMPLATE_FILE, 'utf8')) as unknown;
  const strip = (node: unknown, fallback: unknown): unknown => {
    if (typeof node === 'string') return VAULT_REF.test(node) ? fallback : node;
    if (Array.isArray(node)) return node.map((item, i) => strip(item, Array.isArray(fallback) ? fallback[i] : undefined));
    if (node !== null && typeof node === 'object') {
      const out: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(node)) {
        const next = strip(value, fallback !== null && typeof fallback === 'object' ? (fallback as Record<string, unknown>)[key] : undefined);
        if (next !== undefined) out[key] = next;
      }
      return out;
    }
    return node;
  };
  return {
    config: strip(resolved, defaults) as MstingConfig,
    pending: unresolved.map((use) => ({ id: `vault-ref:${use.path}#${use.field}`, services: [`config ${use.key}`] })),
  };
}

function mergePending(lists: PendingSecret[][]): PendingSecret[] {
  const merged = new Map<string, Set<string>>();
  for (const item of lists.flat()) {
    const users = merged.get(item.id) ?? new Set<string>();
    item.services.forEach((s) => users.add(s));
    merged.set(item.id, users);
  }
  return [...merged].map(([id, users]) => ({ id, services: [...users].sort() })).sort((a, b) => compareText(a.id, b.id));
}

export function renderStack(input: RenderInput): RenderedStack {
  const { config, pending: refPending } = withoutUnresolvedRefs(input.config, input.secrets);
  const plan = planStack(config, input.recommendation, input.profile, { modelsDir: input.modelsDir, modelCommits: input.modelCommits });
  const has = (name: string) => plan.services.some((s) => s.name === name);
  const files = new Map<string, RenderedFile>();
  const add = (path: string, content: string, mode = PUBLIC) => files.set(path, { content, mode, secret: mode === SECRET });

  const env = renderEnvFiles(plan, config, input.secrets);
  for (const [service, content] of env.files) add(envFilePath(service), content, SECRET);

  if (has('vault') && config.vault.mode === 'server') add(serviceConfigPath('vault', 'vault.json'), renderVaultConfig(config));
  const warnings = [...plan.warnings];
  if (has('db')) {
    for (const [path, content] of renderPostgresInit(config, input.schema ?? null).files) add(serviceConfigPath('db', `initdb/${path}`), content);
    if (config.images.source_dir === undefined) {
      warnings.push(
        "images.source_dir is not set: the database gets its users and empty databases but not STING-CE's schema (tables, functions, triggers, the chatbot's memory tables), which its services need; set images.source_dir to a STING-CE source tree before the database's first start",
      );
    }
  }
  if (has('kratos') || has('kratos-migrate')) {
    add(serviceConfigPath('kratos', 'kratos.yml'), renderKratosConfig(config));
    add(serviceConfigPath('kratos', 'identity.schema.json'), renderIdentitySchema(config));
  }
  if (has('frontend')) {
    // Mailpit shows every sign-in code: the frontend routes to it only once its password exists.
    const upstreams = { knowledge: has('knowledge'), chatbot: has('chatbot'), mailpit: has('mailpit') && input.secrets.get('mailpit.ui') !== undefined };
    add(serviceConfigPath('frontend', 'nginx.conf'), renderFrontendNginx(config, upstreams));
    add(serviceConfigPath('frontend', 'env.js'), renderFrontendEnvJs(config, upstreams));
  }
  if (has('llm-gateway')) {
    add(serviceConfigPath('llm-gateway', 'nginx.conf'), renderGatewayNginx(config, input.recommendation));
  }
  if (has('chroma')) add(serviceConfigPath('chroma', 'log_config.yml'), renderChromaLogConfig());
  if (has('loki')) add(serviceConfigPath('loki', 'loki.yml'), renderLokiConfig(config));
  if (has('promtail')) add(serviceConfigPath('promtail', 'promtail.yml'), renderPromtailConfig(config));
  if (has('log-forwarder')) add(serviceConfigPath('log-forwarder', 'promtail.yml'), renderLogForwarderConfig(config));
  if (has('grafana')) {
    add(serviceConfigPath('grafana', 'provisioning/datasources/loki.yml'), renderGrafanaDatasources());
    add(serviceConfigPath('grafana', 'provisioning/dashboards/msting.yml'), renderGrafanaDashboardProvider());
    for (const [uid, json] of renderGrafanaDashboards(config)) add(serviceConfigPath('grafana', `provisioning/dashboards/sting-ce/${uid}.json`), json);
  }

  add(RENDER_PATHS.composeFile, renderComposeFile(plan, new Set(env.files.keys()), (path) => files.get(path)?.content));

  for (const service of plan.services) {
    for (const file of service.configFiles) {
      if (!files.has(file)) throw new Error(`service ${service.name} mounts ${file}, which was not rendered`);
    }
  }
  const sorted = new Map([...files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return { plan: { ...plan, warnings }, files: sorted, pendingSecrets: mergePending([refPending, env.pending]) };
}
