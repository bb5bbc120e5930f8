import type { MstingConfig } from '../config/schema.js';
import { parseMemory, formatSize } from '../stack/units.js';
import { KRATOS_BROWSER_PATH, derivePublicUrls } from '../stack/urls.js';
import { nginxHost, nginxRate } from './guard.js';
import { PROXY_HEADERS, TMP_PATHS, block, d, renderNginx, type NginxNode } from './nginx.js';

/**
 * nginx.conf of the frontend, the stack's single ingress: TLS on 8443, the React build, and
 * proxies to the API, Kratos, the knowledge service and (full profile) the chatbot, each behind
 * a per-client rate limit from `frontend.rate_limits`.
 */

export interface FrontendUpstreams {
  knowledge: boolean;
  chatbot: boolean;
}

/** add_header in a location hides the server's, so every location that adds one repeats these. */
const SECURITY_HEADERS: NginxNode[] = [
  d('add_header', 'Strict-Transport-Security', 'max-age=31536000', 'always'),
  d('add_header', 'X-Content-Type-Options', 'nosniff', 'always'),
  d('add_header', 'X-Frame-Options', 'DENY', 'always'),
  d('add_header', 'Referrer-Policy', 'strict-origin-when-cross-origin', 'always'),
];

/** The Kratos browser path as an nginx regex (a character class, so no backslash is needed). */
const KRATOS_RE = `^${KRATOS_BROWSER_PATH.replace('.', '[.]')}`;

function proxied(path: string | string[], zone: string, burst: number, target: string, extra: NginxNode[] = []): NginxNode {
  return block('location', Array.isArray(path) ? path : [path], [d('limit_req', `zone=${zone}`, `burst=${burst}`, 'nodelay'), ...PROXY_HEADERS, ...extra, d('proxy_pass', target)]);
}

export function renderFrontendNginx(config: MstingConfig, upstreams: FrontendUpstreams): string {
  const urls = derivePublicUrls(config);
  const limits = config.frontend.rate_limits;
  const host = nginxHost(urls.hostname);
  const locations: NginxNode[] = [
    block('location', ['=', '/health'], [d('access_log', 'off'), d('default_type', 'text/plain'), d('return', 200, 'ok')]),
    // Sign-in, registration and recovery submissions: the tight auth limit.
    proxied(['~', `${KRATOS_RE}/self-service/(login|registration|recovery|verification)`], 'auth', 5, 'http://kratos:4433', [
      d('rewrite', `${KRATOS_RE}/(.*)$`, '/$1', 'break'),
    ]),
    proxied(`${KRATOS_BROWSER_PATH}/`, 'api', 20, 'http://kratos:4433/'),
    proxied('/api/auth/', 'auth', 5, 'https://app:5050', [d('proxy_ssl_verify', 'off')]),
  ];
  if (upstreams.knowledge) locations.push(proxied('/api/knowledge/', 'api', 20, 'http://knowledge:8090/'));
  if (upstreams.chatbot) {
    locations.push(proxied('/api/chat/', 'ai', 5, 'http://chatbot:8081/', [d('proxy_read_timeout', '300s'), d('proxy_buffering', 'off')]));
  }
  locations.push(
    proxied('/api/', 'api', 20, 'https://app:5050', [d('proxy_ssl_verify', 'off'), d('proxy_read_timeout', '120s')]),
    block('location', ['/static/'], [d('expires', '7d'), d('add_header', 'Cache-Control', 'public, immutable'), ...SECURITY_HEADERS, d('try_files', '$uri', '=404')]),
    block('location', ['/'], [d('add_header', 'Cache-Control', 'no-store'), ...SECURITY_HEADERS, d('try_files', '$uri', '$uri/', '/index.html')]),
  );

  const conf: NginxNode[] = [
    { comment: 'Rendered by msting from config.yml; edits here are replaced on the next render.' },
    d('user', 'nginx'),
    d('worker_processes', 'auto'),
    d('pid', '/tmp/nginx.pid'),
    d('error_log', '/dev/stderr', 'warn'),
    block('events', [], [d('worker_connections', 1024)]),
    block('http', [], [
      d('include', '/etc/nginx/mime.types'),
      d('default_type', 'application/octet-stream'),
      d('access_log', '/dev/stdout'),
      d('server_tokens', 'off'),
      d('sendfile', 'on'),
      d('keepalive_timeout', '65s'),
      d('client_max_body_size', formatSize(parseMemory(config.frontend.client_max_body_size))),
      ...TMP_PATHS,
      d('limit_req_zone', '$binary_remote_addr', 'zone=api:10m', `rate=${nginxRate(limits.api)}`),
      d('limit_req_zone', '$binary_remote_addr', 'zone=auth:10m', `rate=${nginxRate(limits.auth)}`),
      d('limit_req_zone', '$binary_remote_addr', 'zone=ai:10m', `rate=${nginxRate(limits.ai)}`),
      d('limit_req_status', 429),
      block('server', [], [
        d('listen', 8443, 'ssl'),
        d('http2', 'on'),
        d('server_name', host),
        d('ssl_certificate', '/etc/nginx/certs/server.crt'),
        d('ssl_certificate_key', '/etc/nginx/certs/server.key'),
        d('ssl_protocols', 'TLSv1.2', 'TLSv1.3'),
        d('ssl_prefer_server_ciphers', 'off'),
        d('ssl_session_cache', 'shared:SSL:10m'),
        ...SECURITY_HEADERS,
        d('root', '/usr/share/nginx/html'),
        d('index', 'index.html'),
        ...locations,
      ]),
    ]),
  ];
  return renderNginx(conf);
}
