import { BUILTIN_PROFILES } from '../../../src/stack/names.js';
import { planServicePolicies, servicePolicyName } from '../../../src/vault/policies.js';
import { cpuRecommendation, gpuRecommendation, makeConfig, render } from '../render/fixtures.js';
import type { CheckContext } from './check-rows.js';
import { viewRender, type RenderView } from './render-view.js';

/**
 * Every built-in profile rendered from the default config with fixed fake secrets, every default
 * model enabled (llama3 and zephyr are off by default), and the full profile on hardware where
 * they all fit, so every model service is rendered.
 */
export function renderProfiles(): RenderView[] {
  const config = makeConfig({ llm: { models: makeConfig().llm.models.map((m) => ({ ...m, enabled: true })) } });
  return BUILTIN_PROFILES.map((profile) => {
    const recommendation = profile === 'full' ? gpuRecommendation(config) : cpuRecommendation(config);
    return viewRender(render(config, profile, { recommendation }).files, profile);
  });
}

/** The checks' context for msting's own render: its Vault policies. */
export function renderContext(views: readonly RenderView[]): CheckContext {
  const policies = planServicePolicies();
  return { allViews: views, vaultPolicy: (service) => policies.get(servicePolicyName(service)) };
}
