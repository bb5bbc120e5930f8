import type { MstingConfig } from '../config/schema.js';
import { KRATOS_ADMIN_HOST } from '../stack/networks.js';
import { KRATOS_CERTS_DIR, KRATOS_CONFIG_DIR } from '../stack/plan.js';
import { formatGoDuration, parseDuration } from '../stack/units.js';
import { derivePublicUrls } from '../stack/urls.js';
import { fillTemplate } from './templates/fill.js';
import { toSortedJson, toYaml } from './yaml.js';

/**
 * kratos.yml (templates/kratos/kratos.yml) and the identity schema, shaped after STING-CE's
 * kratos/kratos.yml.template and kratos/identity.schema.sting.json (docs/sting-ce.md lists every difference and why). Secrets
 * (DSN, cookie and cipher secrets, an SMTP login) reach Kratos through its environment overrides
 * from the 0600 env file, never this file.
 */

export const ROLES = ['admin', 'moderator', 'user', 'viewer'] as const;
/** The session cookie STING-CE's app reads (app/middleware/kratos_auth_middleware.py). */
export const KRATOS_SESSION_COOKIE = 'ory_kratos_session';

const go = (value: string): string => formatGoDuration(parseDuration(value));

/** kratos.yml: templates/kratos/kratos.yml with this install's URLs, sign-in methods and lifetimes. */
export function renderKratosConfig(config: MstingConfig): string {
  const urls = derivePublicUrls(config);
  const methods = config.auth.methods;
  const doc = fillTemplate('kratos/kratos.yml', {
    frontend: urls.frontend,
    kratos_admin: urls.kratosAdminInternal,
    // Under Swarm a task's own network alias is not always in DNS when its process starts, and a
    // name that does not resolve stops Kratos: there the admin API listens on every address of
    // the task (docs/swarm.md says what that leaves open).
    kratos_admin_host: config.orchestrator === 'swarm' ? '0.0.0.0' : KRATOS_ADMIN_HOST,
    certs_dir: KRATOS_CERTS_DIR,
    config_dir: KRATOS_CONFIG_DIR,
    cors_origins: urls.corsOrigins,
    cookie_domain: urls.cookieDomain || undefined,
    webauthn_rp_id: urls.webauthnRpId,
    webauthn_origin: urls.webauthnOrigin,
    'methods.code': methods.code,
    'methods.webauthn': methods.webauthn,
    'methods.totp': methods.totp,
    'methods.password': methods.password,
    'methods.second_factor': methods.totp || methods.webauthn,
    profile_editing: config.auth.profile_editing,
    session_lifetime: go(config.auth.session_lifetime),
    session_idle_timeout: go(config.auth.session_idle_timeout),
    mail_from_name: config.mail.from_name,
    mail_from_address: config.mail.from_address ?? `no-reply@${urls.hostname}`,
  });
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
