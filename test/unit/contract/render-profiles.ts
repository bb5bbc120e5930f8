import { BUILTIN_PROFILES } from '../../../src/stack/names.js';
import { planServicePolicies, servicePolicyName } from '../../../src/vault/policies.js';
import { cpuRecommendation, gpuRecommendation, makeConfig, render } from '../render/fixtures.js';
import type { CheckContext } from './check-rows.js';
import { viewRender, type RenderView } from './render-view.js';

/**
 * Every built-in profile rendered from the default config with fixed fake secrets. The full
 * profile is rendered on hardware where every default model fits, so the model services are in it.
 */
export function renderProfiles(): RenderView[] {
  const config = makeConfig();
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
