import type { MstingConfig } from '../config/schema.js';
import { MstingError } from '../errors.js';
import type { Recommendation } from '../hardware/types.js';
import { FIXED_SERVICES } from '../stack/names.js';
import { MODEL_NAME, MODEL_SERVICE_PORT, modelReplicaServices, modelUpstreamName } from './naming.js';

/** A model the gateway routes to: enabled in config.yml and fitting this machine. */
export interface GatewayRoute {
  /** Name clients ask for (`"model": "phi3"`, `X-Model: phi3`, `/models/phi3/...`). */
  name: string;
  /** Other names that reach the same model: its Hugging Face repository id, lower-cased. */
  aliases: string[];
  /** nginx upstream block name. */
  upstream: string;
  /** Compose services of the replicas, in order. */
  services: string[];
  port: number;
}

export type UnavailableReason = 'disabled' | 'does-not-fit' | 'not-assessed';

/** A configured model the gateway answers 404 for, and why. */
export interface UnavailableModel {
  name: string;
  aliases: string[];
  reason: UnavailableReason;
}

/** Everything the gateway config is rendered from, already validated and converted to numbers. */
export interface GatewayPlan {
  routes: GatewayRoute[];
  unavailable: UnavailableModel[];
  /** The model used when a request names none; null when `llm.default_model` is not routable. */
  defaultRoute: string | null;
  /** `llm.default_model` as configured, for messages. */
  defaultModel: string;
  /** Cache lifetimes in seconds; 0 means that kind of response is never cached. */
  cache: { chatSeconds: number; embeddingsSeconds: number };
  /** Per-client limit in nginx's own notation (`2r/s`), the burst, and the Retry-After to send on 429. */
  rateLimit: { rate: string; burst: number; retryAfterSeconds: number };
  /** How long to wait for a model's answer, in milliseconds. */
  readTimeoutMs: number;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `300s`, `5m`, `1h30m` → milliseconds; `0` → 0. Anything else is a config error naming the key. */
export function durationToMs(value: string, key: string): number {
  if (value === '0') return 0;
  if (!/^(\d+(ms|s|m|h|d))+$/.test(value)) throw invalid(key, `"${printable(value)}" is not a duration such as 30s, 15m or 24h`);
  let total = 0;
  for (const [, amount, unit] of value.matchAll(/(\d+)(ms|s|m|h|d)/g)) total += Number(amount) * UNIT_MS[unit as string]!;
  return total;
}

/**
 * Decide which models the gateway serves. A model is routed when it is enabled and the hardware
 * recommendation says it fits; a model missing from the recommendation was never assessed and
 * is not routed either, because the compose renderer does not start it.
 */
export function planGateway(llm: MstingConfig['llm'], recommendation: Recommendation): GatewayPlan {
  const problems: string[] = [];
  const seen = new Set<string>();
  const fixed = new Set<string>(FIXED_SERVICES);
  const serviceOwner = new Map<string, string>();
  for (const [i, model] of llm.models.entries()) {
    if (!MODEL_NAME.test(model.name)) {
      problems.push(`llm.models[${i}].name: "${printable(model.name)}" must be lower-case letters, digits and dashes, starting with a letter`);
      continue;
    }
    if (seen.has(model.name)) problems.push(`llm.models[${i}].name: "${model.name}" is configured twice`);
    seen.add(model.name);
    if (!Number.isInteger(model.replicas) || model.replicas < 1 || model.replicas > 16) {
      problems.push(`llm.models[${i}].replicas: must be a whole number from 1 to 16`);
      continue;
    }
    for (const service of modelReplicaServices(model)) {
      if (fixed.has(service)) problems.push(`llm.models[${i}].name: "${service}" is already a service of the stack; choose another model name`);
      const owner = serviceOwner.get(service);
      if (owner !== undefined && owner !== model.name) {
        problems.push(`llm.models[${i}]: service "${service}" is used by both "${owner}" and "${model.name}" (replicas are named <model>-2, <model>-3, ...)`);
      }
      serviceOwner.set(service, model.name);
    }
  }
  if (!MODEL_NAME.test(llm.default_model)) {
    problems.push(`llm.default_model: "${printable(llm.default_model)}" must be the name of a model in llm.models`);
  }
  const gw = llm.gateway;
  let cache = { chatSeconds: 0, embeddingsSeconds: 0 };
  let readTimeoutMs = 0;
  try {
    cache = {
      chatSeconds: Math.ceil(durationToMs(gw.cache_chat_ttl, 'llm.gateway.cache_chat_ttl') / 1000),
      embeddingsSeconds: Math.ceil(durationToMs(gw.cache_embeddings_ttl, 'llm.gateway.cache_embeddings_ttl') / 1000),
    };
    readTimeoutMs = durationToMs(gw.read_timeout, 'llm.gateway.read_timeout');
    if (readTimeoutMs < 1000) problems.push('llm.gateway.read_timeout: must be at least 1s');
  } catch (err) {
    if (!(err instanceof MstingError)) throw err;
    problems.push(err.message);
  }
  const rate = /^(\d+)r\/([sm])$/.exec(gw.rate);
  if (rate === null || Number(rate[1]) < 1 || Number(rate[1]) > 1_000_000) {
    problems.push(`llm.gateway.rate: "${printable(gw.rate)}" must be requests per second or minute, such as 2r/s or 30r/m, and at least 1`);
  }
  if (!Number.isInteger(gw.burst) || gw.burst < 0 || gw.burst > 1000) problems.push('llm.gateway.burst: must be a whole number from 0 to 1000');
  if (problems.length > 0) {
    throw new MstingError('CONFIG_INVALID', 'The LLM gateway cannot be rendered from this config.', {
      details: problems,
      hint: 'Fix the keys named above in config.yml, then run `msting config validate`.',
    });
  }

  const aliases = repoAliases(llm.models);
  const fits = new Map(recommendation.models.map((m) => [m.name, m.fits]));
  const routes: GatewayRoute[] = [];
  const unavailable: UnavailableModel[] = [];
  for (const model of llm.models) {
    const modelAliases = aliases.get(model.name) ?? [];
    const fit = fits.get(model.name);
    if (!model.enabled) unavailable.push({ name: model.name, aliases: modelAliases, reason: 'disabled' });
    else if (fit === undefined) unavailable.push({ name: model.name, aliases: modelAliases, reason: 'not-assessed' });
    else if (!fit) unavailable.push({ name: model.name, aliases: modelAliases, reason: 'does-not-fit' });
    else {
      routes.push({
        name: model.name,
        aliases: modelAliases,
        upstream: modelUpstreamName(model.name),
        services: modelReplicaServices(model),
        port: MODEL_SERVICE_PORT,
      });
    }
  }
  const perSecond = rate![2] === 's' ? Number(rate![1]) : Number(rate![1]) / 60;
  return {
    routes,
    unavailable,
    defaultRoute: routes.some((r) => r.name === llm.default_model) ? llm.default_model : null,
    defaultModel: llm.default_model,
    cache,
    rateLimit: { rate: `${rate![1]}r/${rate![2]}`, burst: gw.burst, retryAfterSeconds: Math.max(1, Math.ceil(1 / perSecond)) },
    readTimeoutMs,
  };
}

/**
 * The repository id of each model as a second name (`microsoft/phi-3-medium-128k-instruct`),
 * so clients written for the Hugging Face name work unchanged. An id two models share names
 * neither: the gateway could not tell which one was meant.
 */
function repoAliases(models: MstingConfig['llm']['models']): Map<string, string[]> {
  const count = new Map<string, number>();
  const names = new Set(models.map((m) => m.name));
  for (const m of models) {
    const id = m.repo.toLowerCase();
    count.set(id, (count.get(id) ?? 0) + 1);
  }
  const out = new Map<string, string[]>();
  for (const m of models) {
    const id = m.repo.toLowerCase();
    // The same allow-list the schema applies; anything else never reaches the nginx config.
    if (count.get(id) === 1 && !names.has(id) && /^[a-z0-9][a-z0-9._-]*\/[a-z0-9][a-z0-9._-]*$/.test(id) && id.length <= 96) out.set(m.name, [id]);
  }
  return out;
}

function invalid(key: string, message: string): MstingError {
  return new MstingError('CONFIG_INVALID', `${key}: ${message}`);
}

/** A config value shown in a message: control characters made visible, length bounded. */
function printable(value: string): string {
  const shown = JSON.stringify(value).slice(1, -1);
  return shown.length > 60 ? `${shown.slice(0, 57)}...` : shown;
}
