import type { MstingConfig, ModelConfig } from '../config/schema.js';
import { MstingError } from '../errors.js';
import { modelReplicaServices } from '../gateway/naming.js';
import { cpuFallbackRecommendation, type Recommendation } from '../hardware/types.js';
import { withDependencies, type ServiceNode, type StackGraph } from '../lifecycle/graph.js';
import { COMPOSE_CONDITION, resolveEntry } from './catalogue/conditions.js';
import { CATALOGUE } from './catalogue/data.js';
import { BUILTIN_PROFILES, CORE_SERVICES, FIXED_SERVICES, LLM_SERVICES, OBSERVABILITY_SERVICES, type BuiltinProfile } from './names.js';

/**
 * Which services a profile runs: the built-in profiles, the custom ones of config.yml, and every
 * service those need, from the catalogue's `depends_on`. Pure.
 */

/** Enabled models, in config order. */
export function enabledModels(config: MstingConfig): ModelConfig[] {
  return config.llm.models.filter((m) => m.enabled);
}

/**
 * The model services the full profile runs: every replica (`phi3`, `phi3-2`, ...) of each enabled
 * model the recommendation says fits. A model the recommendation did not assess, or that does
 * not fit, is not started (the gateway answers for it with an explanation instead).
 */
export function modelServices(config: MstingConfig, recommendation: Recommendation): { service: string; model: ModelConfig; replica: number }[] {
  const fits = new Map(recommendation.models.map((m) => [m.name, m.fits]));
  return enabledModels(config)
    .filter((m) => fits.get(m.name) === true)
    .flatMap((model) => modelReplicaServices(model).map((service, i) => ({ service, model, replica: i + 1 })));
}

/**
 * Fixed services plus every running model, each with the services it pulls into a profile:
 * `depends_on` and, for the gateway, the model services. `depends_on_if_running` pulls nothing in.
 */
function dependencyGraph(config: MstingConfig, recommendation: Recommendation): StackGraph {
  const models = modelServices(config, recommendation).map((m) => m.service);
  const graph = new Map<string, ServiceNode>();
  for (const name of FIXED_SERVICES) {
    const entry = resolveEntry(CATALOGUE[name]!, config);
    const dependsOn = Object.entries(entry.depends_on).map(([service, condition]) => ({ service, condition: COMPOSE_CONDITION[condition] }));
    const modelCondition = entry.depends_on_models;
    if (modelCondition !== undefined) dependsOn.push(...models.map((service) => ({ service, condition: COMPOSE_CONDITION[modelCondition] })));
    graph.set(name, { name, dependsOn });
  }
  for (const service of models) graph.set(service, { name: service, dependsOn: [] });
  return graph;
}

function profileBase(config: MstingConfig, recommendation: Recommendation, profile: BuiltinProfile): string[] {
  switch (profile) {
    case 'default':
      return [...CORE_SERVICES];
    case 'observability':
      return [...CORE_SERVICES, ...OBSERVABILITY_SERVICES];
    case 'full':
      return [...CORE_SERVICES, ...OBSERVABILITY_SERVICES, ...LLM_SERVICES, ...modelServices(config, recommendation).map((m) => m.service)];
  }
}

/** Profile names this config knows: the built-in ones, then `profiles` from config.yml. */
export function knownProfiles(config: MstingConfig): string[] {
  return [...BUILTIN_PROFILES, ...Object.keys(config.profiles).filter((p) => !(BUILTIN_PROFILES as readonly string[]).includes(p)).sort()];
}

function checkModelNames(config: MstingConfig): void {
  const seen = new Set<string>();
  for (const model of config.llm.models) {
    if ((FIXED_SERVICES as readonly string[]).includes(model.name)) {
      throw new MstingError('CONFIG_INVALID', `llm.models: model name "${model.name}" is also the name of a stack service`, {
        hint: 'rename the model in config.yml (the name becomes its service name)',
      });
    }
    if (seen.has(model.name)) {
      throw new MstingError('CONFIG_INVALID', `llm.models: model name "${model.name}" appears twice`, { hint: 'give every model its own name' });
    }
    seen.add(model.name);
  }
}

/**
 * The services a profile runs, sorted: the built-in set it extends, the services it adds, and
 * everything those depend on. Throws a usage error for an unknown profile and an invalid-config
 * error for a custom profile naming an unknown service.
 */
export function resolveProfileServices(config: MstingConfig, profile: string, recommendation?: Recommendation): string[] {
  checkModelNames(config);
  // Without this machine's recommendation (validating config.yml), every enabled model counts as
  // fitting, as in the CPU fallback: a custom profile may name a model service.
  const rec = recommendation ?? cpuFallbackRecommendation(config.llm.models);
  const graph = dependencyGraph(config, rec);
  let wanted: string[];
  if ((BUILTIN_PROFILES as readonly string[]).includes(profile)) {
    wanted = profileBase(config, rec, profile as BuiltinProfile);
  } else {
    const custom = config.profiles[profile];
    if (!custom) {
      throw new MstingError('USAGE', `unknown profile "${profile}"`, {
        hint: `use one of: ${knownProfiles(config).join(', ')} (custom profiles are defined under \`profiles\` in config.yml)`,
      });
    }
    const unknown = custom.services.filter((s) => !graph.has(s));
    if (unknown.length > 0) {
      throw new MstingError('CONFIG_INVALID', `profiles.${profile}.services names ${unknown.map((s) => `"${s}"`).join(', ')}, not a service of this stack`, {
        hint: `services: ${[...graph.keys()].sort().join(', ')} (a model must be enabled in llm.models and fit this machine)`,
      });
    }
    wanted = [...profileBase(config, rec, custom.extends), ...custom.services];
  }
  return [...withDependencies(graph, wanted)].sort();
}
