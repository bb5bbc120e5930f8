/**
 * The LLM gateway: which models it routes to (plan), its nginx config (render), the check-then-
 * swap that puts a new config into a running gateway (swap), and its upstreams for `status`.
 */
export { GATEWAY_CONTAINER_PORT, MODEL_SERVICE_PORT, modelReplicaServices, modelUpstreamName } from './naming.js';
export { planGateway, type GatewayPlan, type GatewayRoute, type UnavailableModel, type UnavailableReason } from './plan.js';
export { renderGatewayConfig, type GatewayRenderOptions } from './render.js';
export { applyGatewayConfig, checkInContainer, type GatewayApplyResult, type GatewayConfigTarget } from './swap.js';
export { createContainerExec, type ContainerExec, type ExecResult } from '../docker/container-exec.js';
export { formatGatewayUpstreams, gatewayUpstreams, serviceStates, type GatewayUpstreams, type ServiceStates } from './upstreams.js';
