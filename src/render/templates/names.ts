/**
 * The LogQL stream selectors every dashboard may use, each a whole selector with its braces,
 * computed by src/render/observability.ts with every value quoted there: `{containers}` (this
 * install's container lines, of the services the dashboard's Service variable picks),
 * `{all_containers}` (every container line of this install), `{kratos}` (Kratos's lines) and
 * `{msting}` (msting's own operation log).
 */
const DASHBOARD_PLACEHOLDERS = ['containers', 'all_containers', 'kratos', 'msting'] as const;

/**
 * The service config templates under templates/ (each path relative to that folder, as it is
 * rendered under compose/config/) and the `{placeholders}` each may hold. The renderer of each
 * file gives a value for every name listed here; the build rejects a template that uses another.
 */
export const TEMPLATE_PLACEHOLDERS = {
  'kratos/kratos.yml': [
    'frontend',
    'kratos_admin',
    'kratos_admin_host',
    'certs_dir',
    'config_dir',
    'cors_origins',
    'cookie_domain',
    'webauthn_rp_id',
    'webauthn_origin',
    'methods.code',
    'methods.webauthn',
    'methods.totp',
    'methods.password',
    'methods.second_factor',
    'profile_editing',
    'session_lifetime',
    'session_idle_timeout',
    'mail_from_name',
    'mail_from_address',
  ],
  'chroma/log_config.yml': [],
  'frontend/nginx.conf.yml': ['client_max_body_size', 'api_rate', 'auth_rate', 'ai_rate', 'server_name', 'security_headers', 'locations'],
  'llm-gateway/nginx.conf.yml': [
    'routed_models',
    'unrouted_models',
    'state_dir',
    'cache',
    'cache_chat',
    'cache_embeddings',
    'cache_inactive',
    'chat_cache_ttl',
    'embeddings_cache_ttl',
    'rate',
    'burst',
    'retry_after',
    'default_model',
    'default_model_note',
    'default_upstream',
    'routes',
    'upstreams',
    'cache_routes',
    'listen_port',
    'read_timeout',
    'max_fails',
    'fail_timeout',
    'health_body',
    'models_body',
    'available_models',
    'unavailable_models',
    'unavailable_body',
  ],
  'loki/loki.yml': ['retention'],
  'promtail/promtail.yml': ['other_projects', 'pii_stages'],
  'log-forwarder/promtail.yml': ['project', 'msting_logs', 'pii_stages'],
  'grafana/provisioning/datasources/loki.yml': [],
  'grafana/provisioning/dashboards/msting.yml': ['dashboards_dir'],
  'grafana/provisioning/dashboards/sting-ce/sting-logs.yml': DASHBOARD_PLACEHOLDERS,
  'grafana/provisioning/dashboards/sting-ce/sting-errors.yml': DASHBOARD_PLACEHOLDERS,
  'grafana/provisioning/dashboards/sting-ce/sting-auth.yml': DASHBOARD_PLACEHOLDERS,
  'grafana/provisioning/dashboards/sting-ce/msting-operations.yml': DASHBOARD_PLACEHOLDERS,
} as const;

export type TemplateFile = keyof typeof TEMPLATE_PLACEHOLDERS;

/** Templates of nginx configs: a mapping whose `nginx` key holds the nodes (src/render/templates/nginx.ts). */
export const NGINX_TEMPLATES: readonly TemplateFile[] = ['frontend/nginx.conf.yml', 'llm-gateway/nginx.conf.yml'];
/** The values a template's placeholders take: a placeholder that is a whole value takes any data; undefined leaves its key out. */
export type TemplateValues<F extends TemplateFile> = { [K in (typeof TEMPLATE_PLACEHOLDERS)[F][number]]: unknown };

/**
 * Grafana dashboards (`templates/grafana/provisioning/dashboards/sting-ce/<uid>.yml`, rendered as
 * `<uid>.json`): checked as dashboards too (src/render/templates/grafana.ts).
 */
export const DASHBOARD_TEMPLATES: readonly TemplateFile[] = (Object.keys(TEMPLATE_PLACEHOLDERS) as TemplateFile[]).filter((file) => file.startsWith('grafana/provisioning/dashboards/sting-ce/'));

/**
 * `{name}`, one brace each side: a placeholder. `{{name}}` is text, left as it is: Grafana's
 * legend syntax (`legendFormat: "{{service}}"`) and Go templates use it. Braces around anything
 * else (a LogQL selector `{job="msting"}`) are text.
 */
export const PLACEHOLDER = /(?<!\{)\{([a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*)\}(?!\})/g;

/** A name in any number of braces: the build accepts `{name}` and `{{name}}` only (`{{name}`, `{name}}}` are mistakes). */
export const BRACED_NAME = /(\{+)([a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*)(\}+)/g;
