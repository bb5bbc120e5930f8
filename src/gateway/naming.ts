/**
 * Names shared by the gateway and the compose renderer, so the services the stack runs and the
 * servers the gateway sends requests to can never disagree.
 *
 * Replicas are separate compose services rather than one service with `deploy.replicas`: nginx
 * resolves the names in an `upstream` block once, when it starts or reloads, and a compose
 * service with replicas is one DNS name whose addresses change as replicas come and go. One
 * service per replica gives every replica a stable name nginx can count failures against.
 * The first replica keeps the model's own name (`phi3`); more replicas are `phi3-2`, `phi3-3`,
 * ... so raising `replicas` from 1 to 2 adds a service and leaves the running one alone.
 */

/** The port every model service (built on sting/llm-base) listens on inside the network. */
export const MODEL_SERVICE_PORT = 8000;

/** The gateway's container port (published on the host as `ports.llm-gateway`, default 8086). */
export const GATEWAY_CONTAINER_PORT = 8080;

/** A model name as config.yml's schema allows it: lower-case letters, digits and dashes. */
export const MODEL_NAME = /^[a-z][a-z0-9-]{0,30}$/;

/** Compose service names of a model's replicas, first replica first. */
export function modelReplicaServices(model: { name: string; replicas: number }): string[] {
  const count = Math.max(1, Math.trunc(model.replicas));
  return Array.from({ length: count }, (_, i) => (i === 0 ? model.name : `${model.name}-${i + 1}`));
}

/** Name of the nginx upstream block that balances a model's replicas. */
export function modelUpstreamName(model: string): string {
  return `model_${model.replace(/-/g, '_')}`;
}
