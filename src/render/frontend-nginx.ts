import type { MstingConfig } from '../config/schema.js';
import { parseMemory, formatSize } from '../stack/units.js';
import { KRATOS_BROWSER_PATH, MAILPIT_BROWSER_PATH, derivePublicUrls } from '../stack/urls.js';
import { nginxHost, nginxRate } from './guard.js';
import { PROXY_FORWARD_HEADERS, PROXY_HEADERS, block, d, renderNginx, type NginxNode } from './nginx.js';
import { fillTemplate } from './templates/fill.js';
import { filledNginxNodes } from './templates/nginx.js';

/**
 * nginx.conf of the frontend, the stack's single ingress. Its frame (TLS on 8443, limits, the
 * resolver) is templates/frontend/nginx.conf.yml; the routes are computed here: those of
 * STING-CE's frontend/nginx.https.conf (the API, Kratos under /.ory/ and at its bare paths, the
 * knowledge service, the chatbot under /api/bee/, Mailpit under /mailpit/) that the profile
 * runs, each behind a per-client rate limit from `frontend.rate_limits`.
 *
 * Upstreams are named through variables and Docker's resolver, as STING-CE does: nginx starts
 * while an upstream is still down, and finds a recreated container at its new address.
 */

export interface FrontendUpstreams {
  knowledge: boolean;
  chatbot: boolean;
  mailpit: boolean;
}

/** add_header in a location hides the server's, so every location that adds one repeats these. */
const SECURITY_HEADERS: NginxNode[] = [
  d('add_header', 'Strict-Transport-Security', 'max-age=31536000', 'always'),
  d('add_header', 'X-Content-Type-Options', 'nosniff', 'always'),
  d('add_header', 'X-Frame-Options', 'DENY', 'always'),
  d('add_header', 'Referrer-Policy', 'strict-origin-when-cross-origin', 'always'),
];

/** The browser path of Kratos as an nginx regex (a character class, so no backslash is needed). */
const KRATOS_RE = KRATOS_BROWSER_PATH.replace('.', '[.]');

/**
 * Kratos self-service flows that take a credential or an address (sign-in, registration,
 * recovery, verification, settings). Only their submissions count against the auth limit;
 * fetching a flow, /sessions/whoami and the rest stay under the API limit.
 */
const KRATOS_CREDENTIAL_FLOWS = '(login|registration|recovery|verification|settings)';

/**
 * STING-CE app endpoints under /api/auth/ that take a credential, a code or an address
 * (app/routes/auth/*.py, app/routes/admin_setup_routes.py). /api/auth/me, which the UI calls
 * on nearly every page, and the other status reads are not among them.
 */
const APP_CREDENTIAL_ENDPOINTS =
  '(check-user|register|change-password|verify-password|password-change-login|grant-aal2-access|session/grant-aal2-access|admin-setup-(email|verify-email|totp|passkey))';

/** Bursts above each zone's rate before nginx answers 429. */
const BURST = { api: 20, auth: 5, ai: 10 } as const;
type Zone = keyof typeof BURST;

interface Upstream {
  variable: string;
  address: string;
  tls: boolean;
}

const WEBSOCKET: NginxNode[] = [d('proxy_set_header', 'Upgrade', '$http_upgrade'), d('proxy_set_header', 'Connection', 'upgrade')];

const APP: Upstream = { variable: '$app_upstream', address: 'app:5050', tls: true };
const KRATOS: Upstream = { variable: '$kratos_upstream', address: 'kratos:4433', tls: true };
const KNOWLEDGE: Upstream = { variable: '$knowledge_upstream', address: 'knowledge:8090', tls: false };
const CHATBOT: Upstream = { variable: '$chatbot_upstream', address: 'chatbot:8888', tls: false };
const MAILPIT: Upstream = { variable: '$mailpit_upstream', address: 'mailpit:8025', tls: false };

interface ProxyOptions {
  zones: Zone[];
  upstream: Upstream;
  /** Regex (with one capture group for the rest of the path) whose prefix is removed before proxying. */
  strip?: string;
  /** Pass WebSocket upgrades through (Mailpit's UI listens for new mail on one). */
  websocket?: boolean;
  extra?: NginxNode[];
}

function proxied(match: string[], options: ProxyOptions): NginxNode {
  const { upstream } = options;
  const children: NginxNode[] = [
    ...options.zones.map((zone) => d('limit_req', `zone=${zone}`, `burst=${BURST[zone]}`, 'nodelay')),
    d('set', upstream.variable, upstream.address),
  ];
  if (options.strip) children.push(d('rewrite', options.strip, '/$1', 'break'));
  if (options.websocket) {
    children.push(...PROXY_FORWARD_HEADERS, ...WEBSOCKET);
  } else {
    children.push(...PROXY_HEADERS);
  }
  // The upstreams present the stack's own certificate, issued for the public host name.
  if (upstream.tls) children.push(d('proxy_ssl_verify', 'off'));
  children.push(...(options.extra ?? []), d('proxy_pass', `${upstream.tls ? 'https' : 'http'}://${upstream.variable}`));
  return block('location', match, children);
}

function locations(upstreams: FrontendUpstreams): NginxNode[] {
  const kratosBrowser = KRATOS_BROWSER_PATH;
  const out: NginxNode[] = [
    block('location', ['=', '/health'], [d('access_log', 'off'), d('default_type', 'text/plain'), d('return', 200, 'ok')]),

    // Kratos through /.ory/ (what the UI calls), with the prefix removed.
    proxied(['~', `^${KRATOS_RE}/self-service/${KRATOS_CREDENTIAL_FLOWS}`], { zones: ['api', 'auth'], upstream: KRATOS, strip: `^${KRATOS_RE}/(.*)$` }),
    proxied([`${kratosBrowser}/`], { zones: ['api'], upstream: KRATOS, strip: `^${KRATOS_RE}/(.*)$` }),
    // Kratos at its own paths: the links and redirects it builds from its base URL (the frontend).
    proxied(['~', `^/self-service/${KRATOS_CREDENTIAL_FLOWS}`], { zones: ['api', 'auth'], upstream: KRATOS }),
    proxied(['~', '^/(self-service|sessions|identities|schemas|health|version)/'], { zones: ['api'], upstream: KRATOS }),
    proxied(['^~', '/.well-known/'], { zones: ['api'], upstream: KRATOS }),

    // The API: credential endpoints under the auth limit, AI endpoints under the AI limit.
    proxied(['~', `^/api/auth/${APP_CREDENTIAL_ENDPOINTS}$`], { zones: ['api', 'auth'], upstream: APP }),
    proxied(['/api/external-ai/'], { zones: ['ai'], upstream: APP, extra: [d('proxy_read_timeout', '300s')] }),
    proxied(['/api/llm/'], { zones: ['ai'], upstream: APP, extra: [d('proxy_read_timeout', '300s')] }),
  ];
  if (upstreams.knowledge) {
    out.push(
      proxied(['/api/knowledge/'], {
        zones: ['api'],
        upstream: KNOWLEDGE,
        strip: '^/api/knowledge/(.*)$',
        extra: [d('proxy_send_timeout', '300s'), d('proxy_read_timeout', '300s')],
      }),
    );
  }
  // Without the chatbot, /api/bee/ reaches the app, whose chatbot routes answer there.
  out.push(
    upstreams.chatbot
      ? proxied(['/api/bee/'], { zones: ['ai'], upstream: CHATBOT, strip: '^/api/bee/(.*)$', extra: [d('proxy_read_timeout', '300s'), d('proxy_buffering', 'off')] })
      : proxied(['/api/bee/'], { zones: ['ai'], upstream: APP, extra: [d('proxy_read_timeout', '300s')] }),
  );
  if (upstreams.mailpit) {
    // Mailpit serves its UI under MP_WEBROOT=/mailpit and asks for its own password.
    out.push(proxied([`${MAILPIT_BROWSER_PATH}/`], { zones: ['api'], upstream: MAILPIT, websocket: true, extra: [d('proxy_read_timeout', '300s')] }));
  }
  out.push(
    proxied(['/api/'], { zones: ['api'], upstream: APP, extra: [d('proxy_read_timeout', '120s')] }),
    block('location', ['=', '/kratos-login'], [d('add_header', 'Cache-Control', 'no-store'), ...SECURITY_HEADERS, d('try_files', '/kratos-login.html', '=404')]),
    block('location', ['=', '/env.js'], [d('add_header', 'Cache-Control', 'no-store'), ...SECURITY_HEADERS]),
    block('location', ['/static/'], [d('expires', '7d'), d('add_header', 'Cache-Control', 'public, immutable'), ...SECURITY_HEADERS, d('try_files', '$uri', '=404')]),
    block('location', ['/'], [d('add_header', 'Cache-Control', 'no-store'), ...SECURITY_HEADERS, d('try_files', '$uri', '$uri/', '/index.html')]),
  );
  return out;
}

/**
 * The frontend's nginx.conf: templates/frontend/nginx.conf.yml, with the values from config.yml
 * (checked by the guards) and the routes this profile has.
 */
export function renderFrontendNginx(config: MstingConfig, upstreams: FrontendUpstreams): string {
  const limits = config.frontend.rate_limits;
  const filled = fillTemplate('frontend/nginx.conf.yml', {
    client_max_body_size: formatSize(parseMemory(config.frontend.client_max_body_size)),
    api_rate: nginxRate(limits.api),
    auth_rate: nginxRate(limits.auth),
    ai_rate: nginxRate(limits.ai),
    server_name: nginxHost(derivePublicUrls(config).hostname),
    security_headers: SECURITY_HEADERS,
    locations: locations(upstreams),
  });
  return renderNginx(filledNginxNodes(filled.nginx));
}

/**
 * /usr/share/nginx/html/env.js: the runtime settings of the React build (`window.env`). STING-CE's
 * image writes this file at start (frontend/update-env.sh, run by the image's entrypoint); msting
 * renders the same keys, with the stack's URLs, and mounts it read-only. One key more than the
 * script writes: REACT_APP_MAILPIT_URL, which the UI's mail viewer reads.
 */
export function renderFrontendEnvJs(config: MstingConfig, upstreams: FrontendUpstreams): string {
  const urls = derivePublicUrls(config);
  const env: Record<string, string> = {
    REACT_APP_API_URL: urls.api,
    REACT_APP_KRATOS_PUBLIC_URL: urls.kratosBrowser,
    REACT_APP_MAILSLURPER_URL: upstreams.mailpit ? `${urls.frontend}${MAILPIT_BROWSER_PATH}` : '',
    REACT_APP_MAILPIT_URL: upstreams.mailpit ? `${urls.frontend}${MAILPIT_BROWSER_PATH}` : '',
    REACT_APP_CHATBOT_URL: '/api/bee',
    REACT_APP_LLM_GATEWAY_URL: '/api/llm',
    PUBLIC_URL: '/',
    NODE_ENV: 'production',
    DEBUG: 'false',
  };
  // JSON is a JavaScript expression: values are quoted and escaped, never pasted into code.
  return `// Rendered by msting from config.yml; edits here are replaced on the next render.\nwindow.env = ${JSON.stringify(env, null, 2)};\n`;
}
