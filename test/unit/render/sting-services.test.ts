import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { validateConfigText } from '../../../src/config/validate.js';
import { planImages } from '../../../src/install/images.js';
import { APP_HOME } from '../../../src/stack/plan.js';
import { DATABASE_USERS, SECRET_SPECS, mapSecretsProvider, serviceTokenSecretId } from '../../../src/stack/secrets.js';
import { FAKE_SECRETS, makeConfig, render } from './fixtures.js';

/**
 * What STING-CE's own Python services read (docs/sting-ce.md): the app, knowledge, messaging,
 * chatbot, external-ai and Redis, each checked in the rendered files a user would start.
 */

type Service = {
  ports?: { target: number; published: string }[];
  expose?: string[];
  volumes?: { type: string; source: string; target: string; read_only?: boolean }[];
  tmpfs?: string[];
  healthcheck: { test: string[] };
  command?: string[];
  image: string;
  profiles?: string[];
  read_only?: boolean;
};
type Compose = { services: Record<string, Service> };

function rendered(config = makeConfig(), profile = 'full', secrets = FAKE_SECRETS) {
  const stack = render(config, profile, { secrets });
  const compose = parse(stack.files.get('compose/docker-compose.yml')!.content) as Compose;
  const env = (service: string): Record<string, string> => {
    const file = stack.files.get(`env/${service}.env`);
    if (!file) return {};
    return Object.fromEntries(
      file.content
        .split('\n')
        .filter((l) => l !== '' && !l.startsWith('#'))
        .map((l) => {
          const eq = l.indexOf('=');
          return [l.slice(0, eq), l.slice(eq + 1).replace(/^'|'$/g, '')];
        }),
    );
  };
  return { stack, compose, env };
}

function mountAt(service: Service, target: string) {
  return service.volumes?.find((v) => v.target === target);
}

describe('app (STING-CE app/, conf/vault_manager.py)', () => {
  it('starts on a read-only root: a writable HOME holding ~/.sting/certs with the stack certificate, DOMAIN_NAME from hostname', () => {
    const { compose, env } = rendered(makeConfig({ hostname: 'sting.example.com' }));
    const app = compose.services.app!;
    expect(app.read_only).toBe(true);
    expect(env('app').HOME).toBe(APP_HOME);
    expect(mountAt(app, APP_HOME)).toMatchObject({ type: 'volume', source: 'app_home' });
    expect(mountAt(app, `${APP_HOME}/.sting/certs`)).toMatchObject({ type: 'bind', source: '../certs', read_only: true });
    expect(mountAt(app, '/app/certs')).toMatchObject({ type: 'bind', source: '../certs', read_only: true });
    expect(env('app').DOMAIN_NAME).toBe('sting.example.com');
    expect(env('app').STING_INSTALL_DIR).toBe(APP_HOME);
  });

  it('gets the names its code reads: VAULT_TOKEN (its own token), the Honey Reserve key, the service API key, the salt', () => {
    const { env } = rendered();
    const app = env('app');
    expect(app.VAULT_TOKEN).toBe('fake-vault-token-app');
    expect(app.HONEY_RESERVE_MASTER_KEY).toBe('fake-app-field_key');
    expect(app.STING_SERVICE_API_KEY).toBe('fake-internal-service_token');
    expect(app.SECURITY_PASSWORD_SALT).toBe('fake-app-security_salt');
    expect(app.FLASK_SECRET_KEY).toBe('fake-app-flask');
    expect(app.DATABASE_URL).toMatch(/^postgresql:\/\/app_user:fake-db-app@db:5432\//);
    // Names STING-CE never reads are gone.
    for (const unread of ['VAULT_TOKEN_FILE', 'FIELD_ENCRYPTION_KEY', 'STING_SERVICE_TOKEN', 'UPLOAD_DIR', 'LOG_DIR', 'SESSION_LIFETIME_SECONDS', 'SSL_CERT_FILE_PATH', 'CORS_ALLOWED_ORIGINS', 'DEFAULT_ROLE']) {
      expect(app, unread).not.toHaveProperty(unread);
    }
  });

  it('leaves VAULT_TOKEN out, reported pending, until vault init has given the app its token', () => {
    const values = Object.fromEntries(SECRET_SPECS.map((s) => [s.id, `fake-${s.id}`]));
    const { stack, env } = rendered(makeConfig(), 'default', mapSecretsProvider(values));
    expect(env('app')).not.toHaveProperty('VAULT_TOKEN');
    expect(stack.pendingSecrets).toContainEqual({ id: serviceTokenSecretId('app'), services: ['app'] });
  });

  it('calls Kratos over TLS, and the chat services where they run', () => {
    const full = rendered().env('app');
    expect(full.KRATOS_PUBLIC_URL).toBe('https://kratos:4433');
    expect(full.KRATOS_ADMIN_URL).toBe('https://kratos:4434');
    expect(full.EXTERNAL_AI_SERVICE_URL).toBe('http://external-ai:8091');
    expect(full.CHATBOT_SERVICE_URL).toBe('http://chatbot:8888');
    // Without them (default profile) the same addresses: the app tries them and answers that chat is unavailable.
    const core = rendered(makeConfig(), 'default').env('app');
    expect(core.EXTERNAL_AI_SERVICE_URL).toBe('http://external-ai:8091');
    expect(core.CHATBOT_SERVICE_URL).toBe('http://chatbot:8888');
  });
});

describe('chatbot (STING-CE chatbot/)', () => {
  it('listens on BEE_PORT 8888: the exposed (and, when ports.chatbot is set, published) port leads there and the health check asks there', () => {
    const { compose, env } = rendered();
    const chatbot = compose.services.chatbot!;
    expect(env('chatbot').BEE_PORT).toBe('8888');
    expect(chatbot.expose).toEqual(['8888']);
    expect(rendered(makeConfig({ ports: { chatbot: 8081 } })).compose.services.chatbot!.ports).toEqual([expect.objectContaining({ target: 8888, published: '8081' })]);
    expect(chatbot.healthcheck.test.join(' ')).toContain('http://127.0.0.1:8888/health');
    expect(env('chatbot').LLM_GATEWAY_URL).toBe('http://llm-gateway:8080');
    expect(env('chatbot').STING_SERVICE_API_KEY).toBe('fake-internal-service_token');
  });

  it.skipIf(!(DATABASE_USERS as readonly string[]).includes('chatbot'))('gets DATABASE_URL from its own database user (without it, it falls back to postgres:postgres)', () => {
    expect(rendered().env('chatbot').DATABASE_URL).toMatch(/^postgresql:\/\/chatbot_user:fake-db-chatbot@db:5432\//);
  });
});

describe('knowledge (STING-CE knowledge_service/)', () => {
  it('reads KRATOS_ADMIN_URL and accepts the key the app and the chatbot send', () => {
    const { env } = rendered();
    expect(env('knowledge').KRATOS_ADMIN_URL).toBe('https://kratos:4434');
    expect(env('knowledge').KNOWLEDGE_SYSTEM_API_KEY).toBe(env('app').STING_SERVICE_API_KEY);
    expect(env('knowledge').KNOWLEDGE_SYSTEM_API_KEY).toBe(env('chatbot').STING_SERVICE_API_KEY);
    expect(env('knowledge').KNOWLEDGE_DEV_MODE).toBe('false');
  });

  it('keeps uploaded documents on a volume, not on a tmpfs', () => {
    const knowledge = rendered(makeConfig(), 'default').compose.services.knowledge!;
    expect(mountAt(knowledge, '/tmp/sting_uploads')).toMatchObject({ type: 'volume', source: 'knowledge_uploads' });
    expect(knowledge.tmpfs ?? []).not.toContain('/tmp/sting_uploads');
  });
});

describe('chroma', () => {
  it("requires a token that only its clients' 0600 env files carry: knowledge and external-ai send the same one", () => {
    const { stack, env } = rendered();
    const token = env('chroma').CHROMA_SERVER_AUTHN_CREDENTIALS;
    expect(token).toBe('fake-chroma-token');
    expect(env('chroma').CHROMA_SERVER_AUTHN_PROVIDER).toBe('chromadb.auth.token_authn.TokenAuthenticationServerProvider');
    for (const client of ['knowledge', 'external-ai']) {
      expect(env(client).CHROMA_CLIENT_AUTH_PROVIDER, client).toBe('chromadb.auth.token_authn.TokenAuthClientProvider');
      expect(env(client).CHROMA_CLIENT_AUTH_CREDENTIALS, client).toBe(token);
    }
    expect(stack.files.get('compose/docker-compose.yml')!.content).not.toContain(token);
    expect(env('app').CHROMA_CLIENT_AUTH_CREDENTIALS).toBeUndefined();
  });

  it('runs on a read-only root, logging to stdout through the mounted log configuration instead of a file in the image', () => {
    const { compose, stack } = rendered(makeConfig(), 'default');
    const chroma = compose.services.chroma!;
    expect(chroma.read_only).toBe(true);
    expect(chroma.tmpfs).toContain('/tmp');
    expect(mountAt(chroma, '/chroma/chroma')).toMatchObject({ type: 'volume', source: 'chroma_data' });
    expect(mountAt(chroma, '/etc/chroma/log_config.yml')).toMatchObject({ type: 'bind', read_only: true });
    expect(chroma.command?.slice(chroma.command.indexOf('--log-config'), chroma.command.indexOf('--log-config') + 2)).toEqual(['--log-config', '/etc/chroma/log_config.yml']);
    const logConfig = parse(stack.files.get('compose/config/chroma/log_config.yml')!.content) as { handlers: Record<string, { class: string }> };
    expect(Object.values(logConfig.handlers).map((h) => h.class)).toEqual(['logging.StreamHandler']);
  });
});

describe('messaging (STING-CE messaging_service/)', () => {
  it('gets its allowed origins as CORS_ORIGINS', () => {
    const env = rendered(makeConfig({ app: { cors_origins: ['https://other.example.com'] } }), 'default').env('messaging');
    expect(env.CORS_ORIGINS).toBe('https://localhost:3010,https://other.example.com');
    expect(env).not.toHaveProperty('CORS_ALLOWED_ORIGINS');
  });
});

describe('external-ai (STING-CE external_ai_service/)', () => {
  it('runs in the full profile with the STING image, its own health check and no host port', () => {
    const config = makeConfig({ images: { registry: 'registry.example.com/sting', version: '1.0.0' } });
    const { compose, env } = rendered(config);
    const svc = compose.services['external-ai']!;
    expect(svc.image).toBe('registry.example.com/sting/sting-ce-external-ai:1.0.0');
    expect(svc.profiles).toEqual(['full']);
    expect(svc.healthcheck.test).toEqual(['CMD', 'curl', '-f', 'http://127.0.0.1:8091/health']);
    expect(svc.ports).toBeUndefined();
    expect(env('external-ai')).toMatchObject({ EXTERNAL_AI_PORT: '8091', OLLAMA_BASE_URL: 'http://llm-gateway:8080', CORS_ORIGINS: 'https://localhost:3010', REDIS_HOST: 'redis' });
    expect(rendered(config, 'default').compose.services).not.toHaveProperty('external-ai');
  });

  it('with images.source_dir, is built from the tree as STING-CE builds it (context: the tree root)', () => {
    const config = makeConfig({ images: { source_dir: '/src/STING' } });
    const { stack } = rendered(config);
    const action = planImages(config, stack.plan, new Set(), true).actions.find((a) => a.service === 'external-ai');
    expect(action).toEqual({ service: 'external-ai', image: 'ghcr.io/alphabytez/sting-ce-external-ai:latest', action: 'build', recipe: { context: '.', dockerfile: 'external_ai_service/Dockerfile', args: {}, base: null } });
  });
});

describe('redis', () => {
  it('has no password and is not published; its clients get a URL without one', () => {
    const { compose, env, stack } = rendered();
    const redis = compose.services.redis!;
    expect(redis.ports).toBeUndefined();
    expect(redis.command?.join(' ')).not.toMatch(/requirepass/);
    expect(env('redis')).not.toHaveProperty('REDIS_PASSWORD');
    for (const service of ['app', 'knowledge', 'messaging']) expect(env(service).REDIS_URL, service).toMatch(/^redis:\/\/redis:6379\/\d+$/);
    expect([...stack.files.values()].map((f) => f.content).join('\n')).not.toContain('fake-redis');
  });

  it('a config.yml that still sets ports.redis validates, with a warning that it is ignored', () => {
    const result = validateConfigText('ports:\n  redis: 8086\n');
    expect(result.errors).toEqual([]);
    expect(result.warnings).toContainEqual(expect.objectContaining({ severity: 'warning', message: expect.stringMatching(/ports\.redis is ignored/) }));
    expect(validateConfigText('ports:\n  app: 5050\n').warnings.filter((w) => /redis/.test(w.message))).toEqual([]);
  });
});
