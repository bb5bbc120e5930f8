import { block, d, renderNginx, type NginxNode } from '../render/nginx.js';
import { fillTemplate } from '../render/templates/fill.js';
import { filledNginxNodes } from '../render/templates/nginx.js';
import { GATEWAY_CONTAINER_PORT } from './naming.js';
import { int, json, mapKey, path, quoted, time, word } from './nginx-text.js';
import type { GatewayPlan, GatewayRoute, UnavailableModel } from './plan.js';

export interface GatewayRenderOptions {
  /**
   * Directory nginx keeps the response cache and its temporary files in. It must exist in the
   * image (nginx creates only the last level); the default suits nginx:alpine and Debian alike.
   */
  stateDir?: string;
  /** Port the gateway listens on inside its container. */
  listenPort?: number;
}

/** A replica that fails this often within FAIL_TIMEOUT is left alone for FAIL_TIMEOUT. */
const MAX_FAILS = 2;
const FAIL_TIMEOUT = '30s';

/** The upstream of templates/llm-gateway/nginx.conf.yml that answers 404 for a model that is not available. */
const UNAVAILABLE = 'msting_unavailable';

/**
 * Render the gateway's complete nginx.conf: templates/llm-gateway/nginx.conf.yml, with the
 * routes, upstreams and messages of this plan. Pure: the same plan gives the same bytes.
 *
 * How a request finds its model, first match wins: the path prefix `/models/<name>/...`, the
 * `X-Model` header, the `"model"` field of the JSON body, then `llm.default_model`. Stock nginx
 * has no JSON parser (njs is not in every image), so the body is matched with a regular
 * expression over `$request_body`. nginx evaluates `proxy_pass` before it reads a request body,
 * so each routed location mirrors the request to an empty internal location with
 * `mirror_request_body on`: the mirror module reads the body in the phase before content,
 * and `$request_body` is filled when `proxy_pass` picks its upstream.
 */
export function renderGatewayConfig(plan: GatewayPlan, options: GatewayRenderOptions = {}): string {
  const { chatSeconds, embeddingsSeconds } = plan.cache;
  const available = plan.routes.map((r) => word(r.name));
  const availableText = available.length > 0 ? `Available models: ${available.join(', ')}.` : 'No model is available on this machine.';
  const defaultModel = word(plan.defaultModel);
  const filled = fillTemplate('llm-gateway/nginx.conf.yml', {
    routed_models: available.length > 0 ? available.join(', ') : '(none)',
    unrouted_models: plan.unavailable.length > 0 ? plan.unavailable.map((u) => `${word(u.name)} (${u.reason})`).join(', ') : '(none)',
    state_dir: path(options.stateDir ?? '/tmp'),
    cache: chatSeconds > 0 || embeddingsSeconds > 0,
    cache_chat: chatSeconds > 0,
    cache_embeddings: embeddingsSeconds > 0,
    cache_inactive: int(Math.max(chatSeconds, embeddingsSeconds), 0),
    chat_cache_ttl: int(chatSeconds, 0),
    embeddings_cache_ttl: int(embeddingsSeconds, 0),
    rate: word(plan.rateLimit.rate),
    burst: int(plan.rateLimit.burst, 0, 1000),
    retry_after: int(plan.rateLimit.retryAfterSeconds, 1),
    default_model: defaultModel,
    default_model_note: plan.defaultRoute === null ? `${defaultModel}, not available here` : defaultModel,
    default_upstream: plan.defaultRoute === null ? UNAVAILABLE : word(plan.routes.find((r) => r.name === plan.defaultRoute)!.upstream),
    routes: plan.routes.flatMap((route) => [route.name, ...route.aliases].map((name) => d(mapKey(name), word(route.upstream)))),
    upstreams: plan.routes.map(upstream),
    cache_routes: plan.routes.map((route) => d(mapKey(route.upstream), word(route.upstream))),
    listen_port: int(options.listenPort ?? GATEWAY_CONTAINER_PORT, 1, 65535),
    read_timeout: time(plan.readTimeoutMs),
    max_fails: MAX_FAILS,
    fail_timeout: FAIL_TIMEOUT,
    health_body: json({ status: 'healthy', models: available, default_model: plan.defaultRoute }),
    models_body: json({ object: 'list', data: available.map((id) => ({ id, object: 'model', owned_by: 'sting-ce' })) }),
    available_models: availableText,
    unavailable_models: plan.unavailable.flatMap((model) =>
      [model.name, ...model.aliases].map((name) => d(mapKey(name), quoted(`Model ${word(name)} is ${why(model)}. ${availableText}`))),
    ),
    unavailable_body: json({
      error: { message: '$msting_unavailable_message', type: 'invalid_request_error', param: 'model', code: 'model_not_found' },
      available,
      default_model: plan.defaultRoute,
    }),
  });
  return renderNginx(filledNginxNodes(filled.nginx));
}

/** One routed model's replicas; the shared zone gives every worker the same failure and connection counts. */
function upstream(route: GatewayRoute): NginxNode {
  const name = word(route.upstream);
  const port = int(route.port, 1, 65535);
  return block('upstream', [name], [
    d('zone', name, '64k'),
    d('least_conn'),
    ...route.services.map((service) => d('server', `${word(service)}:${port}`, `max_fails=${MAX_FAILS}`, `fail_timeout=${FAIL_TIMEOUT}`)),
    d('keepalive', 16),
  ]);
}

function why(model: UnavailableModel): string {
  switch (model.reason) {
    case 'disabled':
      return 'disabled in config.yml (llm.models[].enabled)';
    case 'does-not-fit':
      return 'not started: it does not fit the memory of this machine (see msting hardware)';
    case 'not-assessed':
      return 'not started: the hardware recommendation does not cover it';
  }
}
