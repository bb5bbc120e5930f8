import { GATEWAY_CONTAINER_PORT } from './naming.js';
import { int, json, mapKey, path, quoted, time, word } from './nginx-text.js';
import type { GatewayPlan, UnavailableModel } from './plan.js';

export interface GatewayRenderOptions {
  /**
   * Directory nginx keeps the response cache and its temporary files in. It must exist in the
   * image (nginx creates only the last level); the default suits nginx:alpine and Debian alike.
   */
  stateDir?: string;
  /** Port the gateway listens on inside its container. */
  listenPort?: number;
}

/** Largest request body the gateway accepts; the whole body is kept in memory to be routed on. */
export const MAX_BODY = '8m';
/** Loopback port of the caching hop (see the comment above `cacheServer`). */
export const CACHE_HOP_PORT = 8079;
/** Loopback port that answers for models that are not available. */
export const UNAVAILABLE_PORT = 8078;
const CONNECT_TIMEOUT_MS = 5000;
const MAX_FAILS = 2;
const FAIL_TIMEOUT = '30s';
const RETRY_TRIES = 3;

const UNAVAILABLE = 'msting_unavailable';
const CACHE_HOP = 'msting_cache';

/**
 * Render the gateway's complete nginx.conf. Pure: the same plan gives the same bytes.
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
  const stateDir = path(options.stateDir ?? '/tmp');
  const listen = int(options.listenPort ?? GATEWAY_CONTAINER_PORT, 1, 65535);
  const cacheTtls = [plan.cache.chatSeconds, plan.cache.embeddingsSeconds].filter((s) => s > 0);
  const cacheOn = cacheTtls.length > 0;
  const readTimeout = time(plan.readTimeoutMs);
  const routeNames = plan.routes.map((r) => word(r.name));
  const lines: string[] = [];
  const emit = (indent: number, ...text: string[]) => {
    for (const t of text) lines.push(t === '' ? '' : `${'    '.repeat(indent)}${t}`);
  };

  emit(
    0,
    '# The STING-CE LLM gateway, rendered by msting from config.yml (llm.models, llm.default_model,',
    '# llm.gateway) and the hardware recommendation. Edit config.yml, not this file: msting renders',
    '# it again and checks it with `nginx -t` before the running gateway reloads it.',
    `# Routed models: ${routeNames.length > 0 ? routeNames.join(', ') : '(none)'}.`,
    `# Not routed: ${plan.unavailable.length > 0 ? plan.unavailable.map((u) => `${word(u.name)} (${u.reason})`).join(', ') : '(none)'}.`,
    '',
    'worker_processes auto;',
    'error_log stderr warn;',
    '',
    'events {',
    '    worker_connections 1024;',
    '}',
    '',
    'http {',
  );
  emit(
    1,
    'default_type application/json;',
    'server_tokens off;',
    'sendfile off;',
    'tcp_nodelay on;',
    'keepalive_timeout 65s;',
    '',
    `log_format msting_gateway escape=json '{"time":"$time_iso8601","client":"$remote_addr","method":"$request_method","uri":"$request_uri","status":$status,"model":"$msting_model","upstream":"$msting_served_by","cache":"$msting_cache_status","seconds":$request_time}';`,
    'access_log /dev/stdout msting_gateway;',
    '',
    '# The whole body stays in one memory buffer, so $request_body can be matched for routing and',
    '# used in the cache key; a larger request is refused with 413.',
    `client_max_body_size ${MAX_BODY};`,
    `client_body_buffer_size ${MAX_BODY};`,
    'client_body_in_single_buffer on;',
    `client_body_temp_path ${stateDir}/msting-gateway-body;`,
    `proxy_temp_path ${stateDir}/msting-gateway-proxy;`,
  );
  if (cacheOn) {
    const inactive = Math.max(...cacheTtls);
    emit(1, `proxy_cache_path ${stateDir}/msting-gateway-cache levels=1:2 keys_zone=llm_cache:10m max_size=1g inactive=${int(inactive, 1)}s use_temp_path=off;`);
  }
  emit(
    1,
    '',
    '# Per client address; 429 with Retry-After beyond the burst.',
    `limit_req_zone $binary_remote_addr zone=ai:10m rate=${word(plan.rateLimit.rate)};`,
    'limit_req_status 429;',
    'limit_req_log_level warn;',
    '',
    '# Which model a request names: path prefix, then X-Model, then the body\'s "model" field.',
    'map $request_uri $msting_path_model {',
    '    default "";',
    '    "~^/models/(?<msting_pm>[A-Za-z0-9._:-]{1,128})/" $msting_pm;',
    '}',
    'map $request_body $msting_body_model {',
    '    default "";',
    '    \'~"model"\\s*:\\s*"(?<msting_bm>[^"]{1,128})"\' $msting_bm;',
    '}',
    'map $http_x_model $msting_named_model {',
    '    "" $msting_body_model;',
    '    default $http_x_model;',
    '}',
    'map $msting_path_model $msting_model {',
    '    "" $msting_named_model;',
    '    default $msting_path_model;',
    '}',
    '',
    `# Model name (case-insensitive) to upstream. No name: llm.default_model (${word(plan.defaultModel)}${plan.defaultRoute === null ? ', not available here' : ''}).`,
    'map $msting_model $msting_upstream {',
    `    default ${UNAVAILABLE};`,
    `    "" ${plan.defaultRoute === null ? UNAVAILABLE : word(plan.routes.find((r) => r.name === plan.defaultRoute)!.upstream)};`,
  );
  for (const route of plan.routes) {
    for (const name of [route.name, ...route.aliases]) emit(2, `${mapKey(name)} ${word(route.upstream)};`);
  }
  emit(
    1,
    '}',
    '',
    '# Streamed answers are never cached and never buffered.',
    'map $request_body $msting_body_stream {',
    '    default 0;',
    '    \'~"stream"\\s*:\\s*true\' 1;',
    '}',
    'map $http_accept $msting_accept_stream {',
    '    default 0;',
    '    "~*text/event-stream" 1;',
    '}',
    'map "$msting_body_stream$msting_accept_stream" $msting_stream {',
    '    default 1;',
    '    00 0;',
    '}',
  );
  for (const [kind, seconds] of [['chat', plan.cache.chatSeconds], ['embeddings', plan.cache.embeddingsSeconds]] as const) {
    // Only answers from a model (upstream model_*) that are not streamed go through the cache.
    emit(1, `map "$msting_stream|$msting_upstream" $msting_${kind}_target {`, '    default $msting_upstream;');
    if (seconds > 0) emit(2, `"~^0\\|model_" ${CACHE_HOP};`);
    emit(1, '}');
  }
  emit(
    1,
    'map $upstream_http_x_msting_upstream_addr $msting_served_by {',
    '    "" $upstream_addr;',
    '    default $upstream_http_x_msting_upstream_addr;',
    '}',
    'map $upstream_http_x_cache_status $msting_cache_status {',
    '    "" BYPASS;',
    '    default $upstream_http_x_cache_status;',
    '}',
    '',
  );

  for (const route of plan.routes) {
    // The shared zone gives every worker the same failure counts and connection counts.
    emit(1, `upstream ${word(route.upstream)} {`, `    zone ${word(route.upstream)} 64k;`, '    least_conn;');
    for (const service of route.services) {
      emit(2, `server ${word(service)}:${int(route.port, 1, 65535)} max_fails=${MAX_FAILS} fail_timeout=${FAIL_TIMEOUT};`);
    }
    emit(2, 'keepalive 16;');
    emit(1, '}');
  }
  emit(1, `upstream ${UNAVAILABLE} {`, `    server 127.0.0.1:${UNAVAILABLE_PORT} max_fails=0;`, '}');
  if (cacheOn) emit(1, `upstream ${CACHE_HOP} {`, `    server 127.0.0.1:${CACHE_HOP_PORT} max_fails=0;`, '    keepalive 16;', '}');
  emit(1, '');

  mainServer(emit, plan, listen, readTimeout);
  if (cacheOn) cacheServer(emit, plan, readTimeout);
  unavailableServer(emit, plan);
  emit(0, '}');
  return `${lines.join('\n')}\n`;
}

type Emit = (indent: number, ...text: string[]) => void;

function proxyBasics(emit: Emit, indent: number, readTimeout: string): void {
  emit(
    indent,
    'proxy_http_version 1.1;',
    'proxy_set_header Connection "";',
    'proxy_set_header Host $host;',
    'proxy_set_header X-Real-IP $remote_addr;',
    'proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
    `proxy_connect_timeout ${time(CONNECT_TIMEOUT_MS)};`,
    `proxy_send_timeout ${readTimeout};`,
    `proxy_read_timeout ${readTimeout};`,
    '# A replica that refuses, times out or answers 502/503 is skipped (and after',
    `# ${MAX_FAILS} failures left alone for ${FAIL_TIMEOUT}). POST requests already sent are not sent again,`,
    '# except embeddings (see the embeddings location).',
    'proxy_next_upstream error timeout http_502 http_503;',
    `proxy_next_upstream_tries ${RETRY_TRIES};`,
  );
}

function mainServer(emit: Emit, plan: GatewayPlan, listen: string, readTimeout: string): void {
  const available = plan.routes.map((r) => r.name);
  const limit = `limit_req zone=ai burst=${int(plan.rateLimit.burst, 0, 1000)} nodelay;`;
  const readBody = ['mirror /_msting_read_body;', 'mirror_request_body on;'];
  emit(1, 'server {');
  emit(2, `listen ${listen} default_server;`, '');
  proxyBasics(emit, 2, readTimeout);
  emit(
    2,
    'proxy_set_header X-Msting-Upstream $msting_upstream;',
    'proxy_set_header X-Msting-Model $msting_model;',
    '# Answers reach the client as they are produced (streaming).',
    'proxy_buffering off;',
    'proxy_hide_header X-Cache-Status;',
    'proxy_hide_header X-Msting-Upstream-Addr;',
    'add_header X-Cache-Status $msting_cache_status always;',
    'error_page 429 = @msting_rate_limited;',
    '',
    '# "healthy" is what STING-CE\'s chatbot checks for (chatbot/bee_server.py, check_llm_gateway_health).',
    'location = /health {',
    '    access_log off;',
    `    return 200 ${json({ status: 'healthy', models: available, default_model: plan.defaultRoute })};`,
    '}',
    '',
    '# STING-CE\'s own API, as its llm_service serves it: the chatbot posts {"message", "model", ...}',
    '# to /generate and reads "text" (chatbot/bee_server.py); /chat takes {"messages"}. Routed by',
    '# the body\'s "model" like /v1/, to the model server\'s path of the same name.',
    'location ~ ^/(generate|chat)$ {',
    `    ${limit}`,
    ...readBody.map((l) => `    ${l}`),
    '    proxy_pass http://$msting_upstream;',
    '}',
    '',
    'location = /v1/models {',
    `    return 200 ${json({ object: 'list', data: available.map((id) => ({ id, object: 'model', owned_by: 'sting-ce' })) })};`,
    '}',
    '',
    'location = /v1/embeddings {',
    `    ${limit}`,
    ...readBody.map((l) => `    ${l}`),
    '    # Embeddings are deterministic and side-effect free: safe to send again to another replica.',
    '    proxy_next_upstream error timeout http_502 http_503 non_idempotent;',
    '    proxy_pass http://$msting_embeddings_target;',
    '}',
    '',
    'location ~ ^/v1/(chat/)?completions$ {',
    `    ${limit}`,
    ...readBody.map((l) => `    ${l}`),
    '    proxy_pass http://$msting_chat_target;',
    '}',
    '',
    'location /v1/ {',
    `    ${limit}`,
    ...readBody.map((l) => `    ${l}`),
    '    proxy_pass http://$msting_upstream;',
    '}',
    '',
    '# /models/<name>/v1/... is handled like /v1/... for that model; any other path goes to the',
    '# model server as it is, without the prefix.',
    'location ^~ /models/ {',
    `    ${limit}`,
    '    rewrite "^/models/[A-Za-z0-9._:-]+(/v1/.*)$" $1 last;',
    '    rewrite "^/models/[A-Za-z0-9._:-]+(/.*)$" $1 break;',
    '    proxy_pass http://$msting_upstream;',
    '}',
    '',
    'location = /_msting_read_body {',
    '    internal;',
    '    access_log off;',
    '    return 204;',
    '}',
    '',
    'location @msting_rate_limited {',
    `    add_header Retry-After ${int(plan.rateLimit.retryAfterSeconds, 1)} always;`,
    '    add_header X-Cache-Status BYPASS always;',
    `    return 429 ${json({ error: { message: `Too many requests: the gateway allows ${plan.rateLimit.rate} per client with a burst of ${plan.rateLimit.burst}.`, type: 'rate_limit_error', code: 'rate_limited' } })};`,
    '}',
    '',
    'location / {',
    `    return 404 ${json({ error: { message: 'Unknown path. The gateway serves /generate, /chat, /v1/chat/completions, /v1/completions, /v1/embeddings, /v1/models and /models/<name>/...', type: 'invalid_request_error', code: 'not_found' } })};`,
    '}',
  );
  emit(1, '}', '');
}

/**
 * Responses are cached only when nginx buffers them, and streamed answers must not be
 * buffered. So the main server, which never buffers, sends the requests that may be cached
 * (not streamed, caching on for their kind) to this loopback server, which buffers, caches and
 * forwards to the model upstream the main server chose (sent along in X-Msting-Upstream).
 */
function cacheServer(emit: Emit, plan: GatewayPlan, readTimeout: string): void {
  emit(1, 'map $http_x_msting_upstream $msting_hop_upstream {', `    default ${UNAVAILABLE};`);
  for (const route of plan.routes) emit(2, `${mapKey(route.upstream)} ${word(route.upstream)};`);
  emit(1, '}', 'map $upstream_addr $msting_hop_addr {', '    "" cache;', '    default $upstream_addr;', '}', '', 'server {', `    listen 127.0.0.1:${CACHE_HOP_PORT};`, '    access_log off;', '');
  proxyBasics(emit, 2, readTimeout);
  emit(
    2,
    'proxy_buffering on;',
    'proxy_cache llm_cache;',
    'proxy_cache_methods POST;',
    'proxy_cache_key "$msting_hop_upstream|$request_method|$request_uri|$request_body";',
    '# The operator chose the lifetime; a model server\'s Cache-Control does not shorten it.',
    'proxy_ignore_headers Cache-Control Expires;',
    'proxy_no_cache $msting_stream;',
    'proxy_cache_bypass $msting_stream;',
    'add_header X-Cache-Status $upstream_cache_status always;',
    '# Which replica answered, for the main server\'s access log.',
    'add_header X-Msting-Upstream-Addr $msting_hop_addr always;',
    '',
  );
  if (plan.cache.embeddingsSeconds > 0) {
    emit(
      2,
      'location = /v1/embeddings {',
      `    proxy_cache_valid 200 ${int(plan.cache.embeddingsSeconds, 1)}s;`,
      '    proxy_next_upstream error timeout http_502 http_503 non_idempotent;',
      '    proxy_pass http://$msting_hop_upstream;',
      '}',
    );
  }
  if (plan.cache.chatSeconds > 0) {
    emit(
      2,
      'location ~ ^/v1/(chat/)?completions$ {',
      `    proxy_cache_valid 200 ${int(plan.cache.chatSeconds, 1)}s;`,
      '    proxy_pass http://$msting_hop_upstream;',
      '}',
    );
  }
  emit(2, 'location / {', '    return 404;', '}');
  emit(1, '}', '');
}

/** Answers 404 naming the models that are available, and why the asked-for one is not. */
function unavailableServer(emit: Emit, plan: GatewayPlan): void {
  const available = plan.routes.map((r) => r.name);
  const availableText = available.length > 0 ? `Available models: ${available.join(', ')}.` : 'No model is available on this machine.';
  emit(
    1,
    'map $http_x_msting_model $msting_unavailable_message {',
    `    "" ${quoted(`No model was named and the default model ${word(plan.defaultModel)} is not available. ${availableText}`)};`,
  );
  for (const model of plan.unavailable) {
    for (const name of [model.name, ...model.aliases]) emit(2, `${mapKey(name)} ${quoted(`Model ${word(name)} is ${why(model)}. ${availableText}`)};`);
  }
  emit(
    2,
    `"~^(?<msting_unknown>[A-Za-z0-9._:/-]{1,128})$" ${quoted(`Model $msting_unknown is not configured in llm.models. ${availableText}`)};`,
    `default ${quoted(`The requested model is not configured in llm.models. ${availableText}`)};`,
  );
  emit(1, '}', '', 'server {', `    listen 127.0.0.1:${UNAVAILABLE_PORT};`, '    access_log off;', '    location / {');
  emit(
    3,
    `return 404 ${json({ error: { message: '$msting_unavailable_message', type: 'invalid_request_error', param: 'model', code: 'model_not_found' }, available, default_model: plan.defaultRoute })};`,
  );
  emit(2, '}');
  emit(1, '}');
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
