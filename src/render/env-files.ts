import { compareText } from '../compare.js';
import { valueAt } from '../config/issues.js';
import type { MstingConfig } from '../config/schema.js';
import { CONDITION_HOLDS } from '../stack/catalogue/conditions.js';
import { CATALOGUE } from '../stack/catalogue/data.js';
import type { CatalogueEnvVariable } from '../stack/catalogue/schema.js';
import { MODEL_CONTAINER_PORT, MODELS_MOUNT, type ModelPlan, type ServicePlan, type StackPlan } from '../stack/plan.js';
import type { SecretsProvider } from '../stack/secrets.js';
import { derivePublicUrls } from '../stack/urls.js';
import { formatEnvFile } from './env-format.js';
import { ENV_DERIVED_VALUES, ENV_URL_VALUES, type EnvContext } from './env-sources.js';

/**
 * One env file per service, holding only what that service needs. Which variables a service gets
 * and where each comes from is data, the `env:` of its catalogue file (compose/<service>.yml):
 * a constant, a key of config.yml, a secret, a named address or a named derived value
 * (src/render/env-sources.ts). A secret the provider does not have yet is left out and reported
 * as pending.
 */

export interface PendingSecret {
  /** SECRET_SPECS id, or `vault-ref:PATH#KEY` for a reference in config.yml. */
  id: string;
  services: string[];
}

export interface EnvFilesResult {
  /** Service name → env file content. */
  files: Map<string, string>;
  pending: PendingSecret[];
}

/** A value of a catalogue `env:` entry, from the one source it names. */
function sourceValue(variable: CatalogueEnvVariable, ctx: EnvContext): string | undefined {
  if (variable.value !== undefined) return variable.value;
  if (variable.config !== undefined) {
    const value = valueAt(ctx.config, variable.config.split('.'));
    return value === undefined ? undefined : String(value);
  }
  if (variable.secret !== undefined) return ctx.secret(variable.secret);
  if (variable.url !== undefined) return ENV_URL_VALUES[variable.url](ctx.urls);
  if (variable.derived !== undefined) return ENV_DERIVED_VALUES[variable.derived](ctx);
  throw new Error('an env variable without a source');
}

/**
 * What STING-CE's llm_service reads (server.py, utils/model_lifecycle_manager.py). The model
 * services are not in the catalogue: one runs per replica of each enabled model that fits the
 * machine, with the settings its plan chose. An absolute MODEL_PATH that is a directory is loaded
 * with local_files_only; anything else is a repository id its Hugging Face library resolves in
 * HF_HUB_CACHE (offline).
 */
function modelEnv(service: ServicePlan, m: ModelPlan): Record<string, string> {
  const torchDevice = m.device === 'rocm' ? 'cuda' : m.device;
  const precision = m.precision === 'bf16' || m.precision === 'fp16' ? m.precision : m.device === 'cpu' ? 'fp32' : 'fp16';
  return {
    MODEL_NAME: m.name,
    MODEL_REPO: m.repo,
    MODEL_REVISION: m.revision,
    MODEL_PATH: m.path,
    STING_MODELS_DIR: MODELS_MOUNT,
    DEVICE_TYPE: torchDevice,
    TORCH_DEVICE: torchDevice,
    TORCH_PRECISION: precision,
    QUANTIZATION: m.quantization,
    HOST: '0.0.0.0',
    PORT: String(MODEL_CONTAINER_PORT),
    HF_HUB_CACHE: MODELS_MOUNT,
    HF_HOME: '/tmp/huggingface',
    HF_HUB_OFFLINE: '1',
    TRANSFORMERS_OFFLINE: '1',
    MEMORY_LIMIT_BYTES: String(service.memoryBytes),
    TZ: 'UTC',
  };
}

/**
 * One service's variables: the `env:` of its catalogue file (compose/<service>.yml), each from
 * the source it names, those whose `when:` condition does not hold left out.
 */
function serviceEnv(service: ServicePlan, config: MstingConfig, ctx: EnvContext): Record<string, string> {
  if (service.model) return modelEnv(service, service.model);
  const entry = CATALOGUE[service.name];
  if (entry === undefined) throw new Error(`no catalogue file for service ${service.name}`);
  const entries: Record<string, string> = {};
  for (const [name, variable] of Object.entries(entry.env)) {
    if (variable.when !== undefined && !CONDITION_HOLDS[variable.when](config)) continue;
    const value = sourceValue(variable, ctx);
    if (value !== undefined) entries[name] = value;
  }
  return entries;
}

/** Env files for every service of the plan that has settings; services with none get no file. */
export function renderEnvFiles(plan: StackPlan, config: MstingConfig, secrets: SecretsProvider): EnvFilesResult {
  const urls = derivePublicUrls(config);
  const pending = new Map<string, Set<string>>();
  const files = new Map<string, string>();
  for (const service of plan.services) {
    const markPending = (id: string): void => {
      const users = pending.get(id) ?? new Set<string>();
      users.add(service.name);
      pending.set(id, users);
    };
    const ctx: EnvContext = {
      service,
      config,
      urls,
      secret: (id) => {
        const value = secrets.get(id);
        if (value === undefined) markPending(id);
        return value;
      },
      ref: (path, key) => {
        const value = secrets.resolveRef(path, key);
        if (value === undefined) markPending(`vault-ref:${path}#${key}`);
        return value;
      },
    };
    const entries = serviceEnv(service, config, ctx);
    if (Object.keys(entries).length > 0 || service.secrets.length > 0) files.set(service.name, formatEnvFile(service.name, entries));
  }
  return {
    files,
    pending: [...pending]
      .map(([id, users]) => ({ id, services: [...users].sort() }))
      .sort((a, b) => compareText(a.id, b.id)),
  };
}
