import type { MstingConfig } from '../config/schema.js';
import { planGateway } from '../gateway/plan.js';
import { renderGatewayConfig } from '../gateway/render.js';
import type { Recommendation } from '../hardware/types.js';

/**
 * nginx.conf of the LLM gateway (stock nginx image). The gateway module decides the routes
 * (one upstream per model that runs, its replicas as servers) from the same recommendation the
 * stack plan uses, so the services compose starts and the servers nginx calls always agree.
 * Temporary and cache files go to /tmp, a tmpfs in the read-only container.
 */
export function renderGatewayNginx(config: MstingConfig, recommendation: Recommendation): string {
  return renderGatewayConfig(planGateway(config.llm, recommendation), { stateDir: '/tmp' });
}
