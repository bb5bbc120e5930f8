/** Every fixed service of the STING-CE stack. Model services come from `llm.models[]`. */
export const CORE_SERVICES = [
  'vault',
  'db',
  'redis',
  'kratos-migrate',
  'kratos',
  'mailpit',
  'app',
  'frontend',
  'messaging',
  'chroma',
  'knowledge',
] as const;

/**
 * The full profile's chat path: the gateway in front of the model services, the chatbot (Bee) and
 * STING-CE's external-ai bridge, which the app asks first for chat (app/routes/chatbot_routes.py).
 */
export const LLM_SERVICES = ['llm-gateway', 'chatbot', 'external-ai'] as const;
export const OBSERVABILITY_SERVICES = ['loki', 'promtail', 'grafana', 'log-forwarder'] as const;

export const FIXED_SERVICES = [...CORE_SERVICES, ...LLM_SERVICES, ...OBSERVABILITY_SERVICES] as const;
export type FixedService = (typeof FIXED_SERVICES)[number];

export const BUILTIN_PROFILES = ['default', 'observability', 'full'] as const;
export type BuiltinProfile = (typeof BUILTIN_PROFILES)[number];

/**
 * Host ports, one key per published port. Keys are what `ports.<key>` in config.yml names.
 * `redis` is kept so a config.yml that sets it still validates, but Redis is never published:
 * STING-CE's Redis clients connect without a password, so Redis sits only on the stack's private
 * network (see UNPUBLISHED_PORT_KEYS and docs/sting-ce.md).
 */
export const DEFAULT_PORTS = {
  vault: 8200,
  db: 5433,
  kratos: 4433,
  'kratos-admin': 4434,
  app: 5050,
  frontend: 3010,
  mailpit: 1025,
  'mailpit-ui': 5051,
  redis: 6379,
  messaging: 8889,
  knowledge: 8090,
  'llm-gateway': 8086,
  chatbot: 8081,
  loki: 3100,
  promtail: 9080,
  grafana: 3000,
} as const;
export type PortKey = keyof typeof DEFAULT_PORTS;

/** Port keys config.yml may still set but msting never publishes, with the reason (a config warning says it). */
export const UNPUBLISHED_PORT_KEYS: Readonly<Partial<Record<PortKey, string>>> = {
  redis: 'Redis has no password (STING-CE clients connect without one), so msting never publishes it; it is reachable only on the internal data network',
  promtail: 'Promtail is never published: nothing outside the stack talks to it',
};
export const PORT_KEYS = Object.keys(DEFAULT_PORTS) as PortKey[];
