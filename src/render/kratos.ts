import type { MstingConfig } from '../config/schema.js';
import { KRATOS_CERTS_DIR, KRATOS_CONFIG_DIR } from '../stack/plan.js';
import { formatGoDuration, parseDuration } from '../stack/units.js';
import { derivePublicUrls } from '../stack/urls.js';
import { toSortedJson, toYaml } from './yaml.js';

/**
 * kratos.yml and the identity schema, shaped after STING-CE's kratos/kratos.yml.template and
 * kratos/identity.schema.sting.json (docs/sting-ce.md lists every difference and why). Secrets
 * (DSN, cookie and cipher secrets, an SMTP login) reach Kratos through its environment overrides
 * from the 0600 env file, never this file.
 */

export const ROLES = ['admin', 'moderator', 'user', 'viewer'] as const;
/** The session cookie STING-CE's app reads (app/middleware/kratos_auth_middleware.py). */
export const KRATOS_SESSION_COOKIE = 'ory_kratos_session';

const go = (value: string): string => formatGoDuration(parseDuration(value));

/** How long a user has to finish a sign-in, registration, settings, recovery or verification form. */
const FLOW_LIFESPAN = '1h';

const tls = () => ({ cert: { path: `${KRATOS_CERTS_DIR}/server.crt` }, key: { path: `${KRATOS_CERTS_DIR}/server.key` } });

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
      public: {
        // The bare frontend origin: the UI rewrites Kratos's absolute URLs to `/.ory<path>` itself,
        // so a base URL ending in /.ory would send sign-in forms to /.ory/.ory/...
        base_url: `${urls.frontend}/`,
        host: '0.0.0.0',
        port: 4433,
        tls: tls(),
        cors: { enabled: true, allowed_origins: urls.corsOrigins, allowed_methods: ['GET', 'POST', 'OPTIONS'], allowed_headers: ['*'], allow_credentials: true },
      },
      admin: { base_url: `${urls.kratosAdminInternal}/`, host: '0.0.0.0', port: 4434, tls: tls() },
    },
    selfservice: {
      default_browser_return_url: ui('/dashboard'),
      allowed_return_urls: [ui('/')],
      methods: {
        code: { enabled: methods.code, passwordless_enabled: methods.code, config: { lifespan: '15m' } },
        // A second factor, as STING-CE's UI uses it (its AAL2 step-up triggers webauthn_login).
        webauthn: {
          enabled: methods.webauthn,
          config: { passwordless: false, rp: { id: urls.webauthnRpId, origins: [urls.webauthnOrigin], display_name: config.mail.from_name } },
        },
        totp: { enabled: methods.totp, config: { issuer: config.mail.from_name } },
        password: { enabled: methods.password, config: { haveibeenpwned_enabled: false, min_password_length: 12, identifier_similarity_check_enabled: true } },
        lookup_secret: { enabled: methods.totp || methods.webauthn },
        link: { enabled: false },
        profile: { enabled: true },
      },
      flows: {
        error: { ui_url: ui('/error') },
        settings: {
          ui_url: ui('/dashboard/settings?tab=security'),
          lifespan: FLOW_LIFESPAN,
          privileged_session_max_age: go(config.auth.session_idle_timeout),
          // STING-CE's UI reads the user's credentials from a settings flow right after an email
          // code sign-in; the app demands AAL2 on its own routes.
          required_aal: 'aal1',
        },
        recovery: { enabled: true, ui_url: ui('/recovery'), use: 'code', lifespan: FLOW_LIFESPAN, after: { default_browser_return_url: ui('/dashboard') } },
        verification: { enabled: true, ui_url: ui('/verification'), use: 'code', lifespan: FLOW_LIFESPAN, after: { default_browser_return_url: ui('/dashboard') } },
        logout: { after: { default_browser_return_url: ui('/login') } },
        login: { ui_url: ui('/login'), lifespan: FLOW_LIFESPAN, after: { default_browser_return_url: ui('/dashboard') } },
        registration: {
          ui_url: ui('/register'),
          lifespan: FLOW_LIFESPAN,
          after: {
            default_browser_return_url: ui('/post-registration'),
            password: { hooks: [{ hook: 'session' }] },
            webauthn: { hooks: [{ hook: 'session' }] },
            code: { hooks: [{ hook: 'session' }] },
          },
        },
      },
    },
    session: {
      lifespan: go(config.auth.session_lifetime),
      cookie: { ...cookie, name: KRATOS_SESSION_COOKIE, persistent: false },
      // aal1 as STING-CE's template has it: the app enforces the second factor itself, and its UI
      // must see the session of a user who has signed in with one factor so far.
      whoami: { required_aal: 'aal1' },
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

/**
 * The identity schema: STING-CE's traits (kratos/identity.schema.sting.json), with the roles of
 * DESIGN and the credentials of every sign-in method msting can enable. Traits STING-CE's app and
 * admin tools write that its schema does not name (`password_change_grace_period`, `profile`,
 * ...) stay accepted, as in STING-CE: `additionalProperties` is true.
 */
export function renderIdentitySchema(config: MstingConfig): string {
  const emailCredentials: Record<string, unknown> = {
    password: { identifier: true },
    webauthn: { identifier: true },
    passkey: { display_name: true },
    totp: { account_name: true },
    code: { identifier: true, via: 'email' },
  };
  const flag = (title: string) => ({ type: 'boolean', title, default: false });
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
          force_password_change: flag('Force password change'),
          totp_enabled: flag('TOTP enabled'),
          passkeys_enabled: flag('Passkeys enabled'),
          profile_picture: { type: 'string', title: 'Profile picture URL' },
          bio: { type: 'string', title: 'Bio', maxLength: 500 },
          website: { type: 'string', title: 'Website', format: 'uri' },
          location: { type: 'string', title: 'Location', maxLength: 100 },
        },
        required: ['email'],
        additionalProperties: true,
      },
    },
  });
}
