import { z } from 'zod';
import { DEFAULT_PORTS, FIXED_SERVICES, PORT_KEYS, type PortKey } from '../stack/names.js';
import {
  HOSTNAME,
  IMAGE_NAME_MAX,
  IMAGE_REFERENCE_MAX,
  isGitRevision,
  isHostOrIp,
  isHttpOrigin,
  isImageReference,
  isImageRegistry,
  isStackSubnet,
  ORIGIN_MAX,
  SUBNET_PREFIX,
} from './formats.js';
import { VAULT_REF } from './vault-ref.js';

/**
 * config.yml, the single source of truth. Every field has a description and a default, so an
 * empty file is a working config. Objects are strict: an unknown key is an error (with a
 * "did you mean" from src/config/report.ts), because a misspelt key silently ignored is the bug
 * STING-CE's own generator had.
 */

/**
 * Every string has a cap, so a stray paste or a generated file cannot carry megabytes into env
 * files, URIs and messages. The cap is part of the field's description.
 */
function text(max: number) {
  return z.string().max(max, `at most ${max} characters`);
}

/**
 * A string of at most `max` characters that passes `check`. A longer one is reported once, for
 * its length: the form check is skipped, and the checks need not scan megabytes.
 */
function checked(max: number, check: (value: string) => boolean, expected: string) {
  return text(max).refine((value) => value.length > max || check(value), expected);
}

const memory = text(32)
  .regex(/^\d+(\.\d+)?\s*([kmgt]i?b?)?$/i, 'a memory size such as 512m, 1g or 2GiB');

const port = z.number().int().min(1, 'a port from 1 to 65535').max(65535, 'a port from 1 to 65535');

const duration = text(32).regex(/^(\d+(ms|s|m|h|d))+$/, 'a duration such as 30s, 15m, 24h or 7d');

const hostname = text(253).regex(HOSTNAME, 'a host name such as sting.example.com');

const rate = text(16).regex(/^[1-9]\d{0,5}r\/[sm]$/, 'a rate such as 10r/s or 5r/m (requests per second or per minute)');

const ipAddress = z.union([z.ipv4(), z.ipv6()]);

const serviceName = text(63).min(1);

export { VAULT_REF } from './vault-ref.js';

const vaultRef = text(512).regex(VAULT_REF, 'a vault-ref:PATH#KEY');

/**
 * A string field that may instead hold a `vault-ref:PATH#KEY`, left as-is by loading and
 * replaced at render time (see src/config/vault-refs.ts). The field's own check comes first so
 * its message is the one reported for a plain bad value.
 */
function refable<T extends z.ZodType<string, string>>(schema: T) {
  return z.union([schema, vaultRef]);
}

function section<T extends z.ZodRawShape>(shape: T, description: string) {
  // prefault({}) parses the empty object, so every nested default applies to a missing section.
  return z.strictObject(shape).prefault({} as never).describe(description);
}

export const modelSchema = z
  .strictObject({
    name: text(31)
      .regex(/^[a-z][a-z0-9-]{0,30}$/, 'lower-case letters, digits and dashes, starting with a letter')
      .describe('Service name of the model (also the name clients ask the gateway for). At most 31 characters.'),
    repo: text(256)
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$/, 'a Hugging Face repository such as org/name')
      .describe('Hugging Face repository id. At most 256 characters.'),
    revision: checked(255, isGitRevision, 'a branch or tag name (git ref rules: no spaces, no `..`, no ~^:?*[\\) or a 40-hex commit')
      .default('main')
      .describe('Branch, tag or 40-hex commit to pin; resolved to a commit on download. A branch or tag follows git ref rules (no spaces, no `..`). At most 255 characters.'),
    enabled: z.boolean().default(true).describe('Run this model in the full profile and download it on install.'),
    files: z.array(text(1024).min(1)).default([]).describe('Glob patterns of files to download (empty: the whole repository). At most 1024 characters each.'),
    exclude: z.array(text(1024).min(1)).default([]).describe('Glob patterns of files never to download. At most 1024 characters each.'),
    parameters_b: z.number().positive().optional().describe('Parameter count in billions, for sizing (guessed from the name when absent).'),
    memory_limit: memory.optional().describe('Memory limit of the model service (default: from the hardware recommendation). At most 32 characters.'),
    quantization: z.enum(['none', 'int8', 'int4']).optional().describe('Quantization to load with (default: from the hardware recommendation).'),
    replicas: z.number().int().min(1).max(16).default(1).describe('Replicas behind the gateway.'),
    gated: z.boolean().default(false).describe('The repository needs an accepted license and a Hugging Face token.'),
  })
  .describe('One local model service.');

export type ModelConfig = z.infer<typeof modelSchema>;

export const DEFAULT_MODELS: ModelConfig[] = [
  { name: 'llama3', repo: 'meta-llama/Llama-3.1-8B', revision: 'main', enabled: false, files: [], exclude: ['original/**'], parameters_b: 8, replicas: 1, gated: true },
  { name: 'phi3', repo: 'microsoft/Phi-3-medium-128k-instruct', revision: 'main', enabled: true, files: [], exclude: [], parameters_b: 14, replicas: 1, gated: false },
  { name: 'zephyr', repo: 'HuggingFaceH4/zephyr-7b-beta', revision: 'main', enabled: false, files: [], exclude: [], parameters_b: 7.24, replicas: 1, gated: false },
];

/**
 * Only the frontend is published by default. Every other key is opt-in: setting it publishes that
 * service port on network.bind_address, with the risk PORT_RISKS names (docs/security.md).
 */
const portsShape = Object.fromEntries(
  PORT_KEYS.map((key) => [
    key,
    key === 'frontend'
      ? port.default(DEFAULT_PORTS.frontend).describe('Host port of the frontend (HTTPS), the one port published by default.')
      : port.optional().describe(`Host port to publish ${key} on (unset: not published; usual port ${DEFAULT_PORTS[key]}).`),
  ]),
) as { frontend: z.ZodDefault<typeof port> } & Record<Exclude<PortKey, 'frontend'>, z.ZodOptional<typeof port>>;

const resourceSchema = z.strictObject({
  memory: memory.optional().describe('Memory limit of the service. At most 32 characters.'),
  cpus: z.number().positive().max(512).optional().describe('CPU limit of the service.'),
  pids: z.number().int().min(32).max(1_000_000).optional().describe('Most processes and threads the service may run (default: from the stack; a fork bomb stops there).'),
});

export const configSchema = z
  .strictObject({
    project: section(
      {
        name: text(63)
          .regex(/^[a-z0-9][a-z0-9_-]*$/, 'lower-case letters, digits, dashes and underscores')
          .default('sting-ce')
          .describe('Docker Compose project name; two installs on one host need different names. At most 63 characters.'),
      },
      'The compose project.',
    ),
    orchestrator: z
      .enum(['compose', 'swarm'])
      .default('compose')
      .describe(
        'What runs the stack: compose (Docker Compose on this host) or swarm (a Docker Swarm stack deployed from this manager node: overlay networks, Swarm secrets filled from Vault, model services on nodes labelled sting.gpu=true; see docs/swarm.md).',
      ),
    swarm: section(
      {
        routing_mesh: z
          .boolean()
          .default(true)
          .describe(
            "orchestrator swarm: services reach each other through Swarm's virtual IPs and the frontend is published through the routing mesh (every node answers on its port). false: DNS round robin and the frontend's port on the node running it, for kernels without IPVS.",
          ),
      },
      'Settings used when orchestrator is swarm.',
    ),
    profile: text(63).min(1).default('default').describe('Profile started when none is given: default, observability, full, or one from `profiles`. At most 63 characters.'),
    hostname: hostname
      .default('localhost')
      .describe('The one host name that drives Kratos URLs, the WebAuthn relying-party id, cookie domain, frontend URLs and TLS names. At most 253 characters.'),
    network: section(
      {
        bind_address: ipAddress
          .default('127.0.0.1')
          .describe('Address the internal services (database, Redis, Vault, Kratos admin, Mailpit, models) publish on. 0.0.0.0 opens them deliberately.'),
        public_bind_address: ipAddress.default('0.0.0.0').describe('Address the frontend publishes on.'),
        subnet: checked(18, isStackSubnet, `an IPv4 network such as 172.30.0.0/16, from /${SUBNET_PREFIX.min} to /${SUBNET_PREFIX.max}`)
          .optional()
          .describe(
            `IPv4 network in CIDR form (a.b.c.d/n, n from ${SUBNET_PREFIX.min} to ${SUBNET_PREFIX.max}) that msting cuts into eight equal parts for the stack networks: edge, app, data, models, ports (default: chosen by Docker). At most 18 characters.`,
          ),
      },
      'Which addresses the stack listens on.',
    ),
    app: section(
      {
        env: z.enum(['production', 'development']).default('production').describe('Flask environment.'),
        debug: z.boolean().default(false).describe('Flask debug mode. Never in production.'),
        log_level: z.enum(['debug', 'info', 'warning', 'error']).default('info').describe('Log level of the API.'),
        max_upload_mb: z.number().int().min(1).max(10240).default(100).describe('Largest upload the API accepts, in MB.'),
        cors_origins: z
          .array(checked(ORIGIN_MAX, isHttpOrigin, 'an http or https origin such as https://app.example.com, one per list item'))
          .default([])
          .describe(
            `Extra origins allowed by CORS (the frontend URL is always allowed): http:// or https://, a host and an optional port, nothing else; one origin per list item. At most ${ORIGIN_MAX} characters each.`,
          ),
        field_encryption: z.boolean().default(true).describe('Encrypt sensitive fields at rest (enables pgcrypto for the app database).'),
      },
      'The Flask API.',
    ),
    auth: section(
      {
        session_lifetime: duration.default('24h').describe('How long a Kratos session lasts. At most 32 characters.'),
        session_idle_timeout: duration.default('1h').describe('Sessions idle longer than this must re-authenticate. At most 32 characters.'),
        methods: section(
          {
            code: z.boolean().default(true).describe('Passwordless sign-in with a one-time email code (the default method).'),
            webauthn: z.boolean().default(true).describe('Passkeys / WebAuthn.'),
            totp: z.boolean().default(true).describe('TOTP authenticator apps as a second factor.'),
            password: z.boolean().default(true).describe('Password sign-in, always with a required second factor (AAL2).'),
          },
          'Sign-in methods.',
        ),
        default_role: z.enum(['admin', 'moderator', 'user', 'viewer']).default('user').describe('Role given to new identities.'),
        profile_editing: z
          .boolean()
          .default(false)
          .describe(
            "Let users edit their own identity traits through Kratos's settings flow (its `profile` method). Kratos cannot make one trait read-only, so a user could then change their own `role` and make themselves admin. STING-CE's profile page does not need it: it saves names and profile fields through the app. Leave it off.",
          ),
      },
      'Ory Kratos (identity and sign-in).',
    ),
    database: section(
      {
        max_connections: z.number().int().min(10).max(10000).default(100).describe('PostgreSQL max_connections (passed to the server as `-c max_connections=N`).'),
        shared_buffers: memory
          .default('256MB')
          .describe('PostgreSQL shared_buffers (passed to the server as `-c shared_buffers=...`); keep it well below the db memory limit. At most 32 characters.'),
      },
      'PostgreSQL.',
    ),
    vault: section(
      {
        mode: z.enum(['server', 'dev']).default('server').describe('server: file storage, persistent, Shamir keys. dev: in memory, secrets vanish on restart.'),
        shares: z.number().int().min(1).max(255).default(5).describe('Unseal key shares created at init.'),
        threshold: z.number().int().min(1).max(255).default(3).describe('Shares needed to unseal.'),
        auto_unseal: z.boolean().default(true).describe('`start` unseals automatically when the shares are stored on this host.'),
        keep_root_token: z.boolean().default(false).describe('Keep the root token after bootstrap instead of revoking it.'),
      },
      'HashiCorp Vault.',
    ),
    redis: section(
      {
        maxmemory: memory.default('256mb').describe('Redis maxmemory. At most 32 characters.'),
        maxmemory_policy: z
          .enum(['noeviction', 'allkeys-lru', 'volatile-lru', 'allkeys-lfu', 'volatile-lfu', 'allkeys-random', 'volatile-random', 'volatile-ttl'])
          .default('allkeys-lru')
          .describe('Redis eviction policy.'),
      },
      "Redis. It has no password (STING-CE's clients connect without one) and is never published: only services on the stack's private network reach it.",
    ),
    mail: section(
      {
        from_address: refable(text(254).email()).optional().describe('Sender address (default: no-reply@<hostname>). At most 254 characters. May be a vault-ref.'),
        from_name: refable(text(128).min(1)).default('STING').describe('Sender name. At most 128 characters. May be a vault-ref.'),
        smtp: section(
          {
            host: refable(checked(253, isHostOrIp, 'a host name or IP address such as smtp.example.com'))
              .default('mailpit')
              .describe('SMTP host name or IP address; mailpit catches all mail locally. At most 253 characters. May be a vault-ref.'),
            port: port.default(1025).describe('SMTP port.'),
            username: refable(text(256).min(1)).optional().describe('SMTP user, if the relay needs one (password goes in Vault). At most 256 characters. May be a vault-ref.'),
            tls: z.enum(['none', 'starttls', 'tls']).default('none').describe('Transport security to the SMTP host.'),
          },
          'Where mail is sent.',
        ),
      },
      'Outgoing mail (Kratos courier, notifications).',
    ),
    frontend: section(
      {
        rate_limits: section(
          {
            api: rate.default('10r/s').describe('Per-client rate for /api, such as 10r/s or 600r/m. At most 16 characters.'),
            auth: rate.default('5r/m').describe('Per-client rate for sign-in endpoints, such as 5r/m. At most 16 characters.'),
            ai: rate.default('2r/s').describe('Per-client rate for AI endpoints, such as 2r/s. At most 16 characters.'),
          },
          'Nginx rate limits at the single ingress.',
        ),
        client_max_body_size: memory.default('100m').describe('Largest request body nginx accepts. At most 32 characters.'),
      },
      'The frontend (nginx + React), the only service that faces the network.',
    ),
    llm: section(
      {
        device: z.enum(['auto', 'cuda', 'rocm', 'mps', 'cpu']).default('auto').describe('Where models run; auto follows the hardware recommendation.'),
        precision: z.enum(['auto', 'bf16', 'fp16', 'int8', 'int4']).default('auto').describe('Weights precision; auto follows the hardware recommendation.'),
        default_model: text(31).default('phi3').describe('Model the gateway uses when a request names none. At most 31 characters (a model name).'),
        models: z.array(modelSchema).default(DEFAULT_MODELS).describe('Local model services (full profile).'),
        gateway: section(
          {
            cache_chat_ttl: duration.or(z.literal('0')).default('0').describe('How long identical chat responses are cached (0: off). At most 32 characters.'),
            cache_embeddings_ttl: duration.or(z.literal('0')).default('10m').describe('How long identical embeddings responses are cached (0: off). At most 32 characters.'),
            rate: rate.default('2r/s').describe('Per-client request rate, such as 2r/s or 30r/m. At most 16 characters.'),
            burst: z.number().int().min(0).max(1000).default(5).describe('Requests allowed above the rate before 429.'),
            read_timeout: duration.default('300s').describe('How long to wait for a model to answer. At most 32 characters.'),
          },
          'The LLM gateway.',
        ),
      },
      'Local LLM services and their gateway.',
    ),
    observability: section(
      {
        grafana: section({ anonymous_viewer: z.boolean().default(false).describe('Let anyone view dashboards without signing in.') }, 'Grafana.'),
        loki: section({ retention: duration.default('168h').describe('How long logs are kept (7 days, as STING-CE ships). At most 32 characters.') }, 'Loki.'),
        promtail: section(
          { pii_sanitization: z.boolean().default(true).describe('Mask emails, phone numbers, card numbers and tokens before logs are stored.') },
          'Promtail.',
        ),
      },
      'Logs and dashboards (observability and full profiles).',
    ),
    images: section(
      {
        registry: refable(checked(IMAGE_NAME_MAX, isImageRegistry, 'a registry and path such as ghcr.io/alphabytez or registry.example.com:5000/sting (lower-case path)'))
          .default('ghcr.io/alphabytez')
          .describe(
            `Registry (host[:port]) and path of the STING-CE images, such as ghcr.io/alphabytez; images are <registry>/sting-ce-<service>:<version>. At most ${IMAGE_NAME_MAX} characters. May be a vault-ref.`,
          ),
        version: text(128).regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, 'an image tag').default('latest').describe('Tag of the STING-CE images. At most 128 characters.'),
        overrides: z
          .record(serviceName, refable(checked(IMAGE_REFERENCE_MAX, isImageReference, 'an image reference such as registry.example.com/team/app:1.2 ([registry/]path[:tag][@sha256:digest], lower-case path)')))
          .default({})
          .describe(
            `Full image reference for one service (air-gapped mirrors, local builds): [registry[:port]/]path[:tag][@sha256:digest], path in lower case. At most ${IMAGE_REFERENCE_MAX} characters. Values may be vault-refs.`,
          ),
        digests: z
          .record(serviceName, text(71).regex(/^sha256:[a-f0-9]{64}$/, 'sha256:<64 hex digits>'))
          .default({})
          .describe('Pin a service image by digest as well as tag.'),
        source_dir: text(4096)
          .min(1)
          .optional()
          .describe(
            "A STING-CE source tree (its STING/ folder; an absolute path): install and update build the STING-CE images from its Dockerfiles (sting/llm-base:latest first) instead of pulling them, and the database's first start runs its schema SQL (docker-entrypoint-initdb.d, database/migrations). At most 4096 characters.",
          ),
      },
      'Container images.',
    ),
    ports: z.strictObject(portsShape).prefault({} as never).describe('Host ports to publish: the frontend by default, every other service only when its key is set.'),
    resources: z
      .record(serviceName, resourceSchema)
      .default({})
      .describe('Memory and CPU limits per service (defaults come from the stack and the hardware).'),
    stop_timeout: z.number().int().min(1).max(3600).default(30).describe('Seconds a service gets to stop before it is killed.'),
    profiles: z
      .record(
        text(63).regex(/^[a-z][a-z0-9-]*$/, 'lower-case letters, digits and dashes, starting with a letter'),
        z.strictObject({
          extends: z.enum(['default', 'observability', 'full']).default('default').describe('Built-in profile this one adds to.'),
          services: z.array(serviceName).default([]).describe('Services added to it. At most 63 characters each.'),
        }),
      )
      .default({})
      .describe('Extra named profiles.'),
  })
  .describe('msting config.yml');

export type MstingConfig = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;

export const KNOWN_FIXED_SERVICES: readonly string[] = FIXED_SERVICES;
