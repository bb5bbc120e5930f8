import type { MstingConfig } from '../config/schema.js';
import { formatGoDuration, parseDuration } from '../stack/units.js';
import { derivePublicUrls } from '../stack/urls.js';
import { toSortedJson, toYaml } from './yaml.js';

/**
 * kratos.yml and the identity schema. Secrets (DSN, cookie and cipher secrets, an SMTP login)
 * reach Kratos through its environment overrides from the 0600 env file, never this file.
 */

export const KRATOS_CONFIG_DIR = '/etc/config/kratos';
export const ROLES = ['admin', 'moderator', 'user', 'viewer'] as const;

const go = (value: string): string => formatGoDuration(parseDuration(value));

export function renderKratosConfig(config: MstingConfig): string {
  const urls = derivePublicUrls(config);
  const methods = config.auth.methods;
  const ui = (path: string) => `${urls.frontend}${path}`;
  const cookie: Record<string, unknown> = { path: '/', same_site: 'Lax' };
  if (urls.cookieDomain) cookie.domain = urls.cookieDomain;
  const fromAddress = config.mail.from_address ?? `no-reply@${urls.hostname}`;

  const doc = {
    version: 'v1.3.0',
    serve: {
      public: { base_url: `${urls.kratosBrowser}/`, host: '0.0.0.0', port: 4433, cors: { enabled: true, allowed_origins: urls.corsOrigins, allow_credentials: true } },
      admin: { base_url: `${urls.kratosAdminInternal}/`, host: '0.0.0.0', port: 4434 },
    },
    selfservice: {
      default_browser_return_url: ui('/'),
      allowed_return_urls: [ui('/')],
      methods: {
        code: { enabled: methods.code, passwordless_enabled: methods.code, config: { lifespan: '15m' } },
        webauthn: {
          enabled: methods.webauthn,
          config: {
            passwordless: true,
            rp: { id: urls.webauthnRpId, origins: [urls.webauthnOrigin], display_name: config.mail.from_name },
          },
        },
        totp: { enabled: methods.totp, config: { issuer: config.mail.from_name } },
        password: { enabled: methods.password, config: { haveibeenpwned_enabled: false, min_password_length: 12, identifier_similarity_check_enabled: true } },
        lookup_secret: { enabled: methods.totp || methods.webauthn },
        link: { enabled: false },
        profile: { enabled: true },
      },
      flows: {
        error: { ui_url: ui('/error') },
        settings: { ui_url: ui('/settings'), privileged_session_max_age: go(config.auth.session_idle_timeout), required_aal: 'highest_available' },
        recovery: { enabled: true, ui_url: ui('/recovery'), use: 'code' },
        verification: { enabled: true, ui_url: ui('/verification'), use: 'code', after: { default_browser_return_url: ui('/') } },
        logout: { after: { default_browser_return_url: ui('/login') } },
        login: { ui_url: ui('/login'), lifespan: '10m' },
        registration: {
          ui_url: ui('/register'),
          lifespan: '10m',
          after: { password: { hooks: [{ hook: 'session' }] }, webauthn: { hooks: [{ hook: 'session' }] }, code: { hooks: [{ hook: 'session' }] } },
        },
      },
    },
    session: {
      lifespan: go(config.auth.session_lifetime),
      cookie: { ...cookie, name: 'sting_session', persistent: false },
      // A user who has a second factor must use it: password sign-in alone is not enough.
      whoami: { required_aal: 'highest_available' },
    },
    cookies: cookie,
    identity: {
      default_schema_id: 'default',
      schemas: [{ id: 'default', url: `file://${KRATOS_CONFIG_DIR}/identity.schema.json` }],
    },
    courier: {
      smtp: { from_address: fromAddress, from_name: config.mail.from_name },
    },
    ciphers: { algorithm: 'xchacha20-poly1305' },
    hashers: { algorithm: 'bcrypt', bcrypt: { cost: 12 } },
    log: { level: 'info', format: 'json', leak_sensitive_values: false },
  };
  return `# Rendered by msting from config.yml. Secrets come from env/kratos.env.\n${toYaml(doc)}`;
}

export function renderIdentitySchema(config: MstingConfig): string {
  const emailCredentials: Record<string, unknown> = {
    password: { identifier: true },
    webauthn: { identifier: true },
    totp: { account_name: true },
    code: { identifier: true, via: 'email' },
  };
  return toSortedJson({
    $id: 'https://schemas.sting-ce.org/identity/default.schema.json',
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'STING user',
    type: 'object',
    properties: {
      traits: {
        type: 'object',
        properties: {
          email: {
            type: 'string',
            format: 'email',
            title: 'Email',
            minLength: 3,
            maxLength: 320,
            'ory.sh/kratos': { credentials: emailCredentials, verification: { via: 'email' }, recovery: { via: 'email' } },
          },
          name: {
            type: 'object',
            properties: { first: { type: 'string', title: 'First name', maxLength: 100 }, last: { type: 'string', title: 'Last name', maxLength: 100 } },
          },
          role: { type: 'string', title: 'Role', enum: [...ROLES], default: config.auth.default_role },
        },
        required: ['email'],
        additionalProperties: false,
      },
    },
  });
}
