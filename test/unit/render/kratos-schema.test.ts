import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import ajvFormats from 'ajv-formats';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { SECRET_SPECS, mapSecretsProvider } from '../../../src/stack/secrets.js';
import { envFilePath, serviceConfigPath } from '../../../src/stack/plan.js';
import { makeConfig, render } from './fixtures.js';

/**
 * The rendered kratos.yml, with what Kratos takes from its environment (env/kratos.env), checked
 * against the configuration schema of the Kratos version the stack pins (oryd/kratos:v1.3.0).
 * Kratos validates its merged configuration against that schema at start and refuses to run on
 * an error, so a render this test rejects is a Kratos that does not start.
 */

const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures', 'kratos');
const readJson = (file: string): Record<string, unknown> => JSON.parse(readFileSync(join(FIXTURES, file), 'utf8')) as Record<string, unknown>;

type Schema = Record<string, unknown>;

/** Secrets of the length and alphabet msting generates (Kratos checks lengths). */
const SECRETS = mapSecretsProvider(Object.fromEntries(SECRET_SPECS.map((s, i) => [s.id, `${String.fromCharCode(97 + (i % 26))}`.repeat(s.generator.length)])));

/** An env file as Docker Compose reads msting's (single-quoted literal or double-quoted with escapes). */
function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (!m) continue;
    const raw = m[2]!;
    out[m[1]!] = raw.startsWith("'") ? raw.slice(1, -1) : raw.slice(1, -1).replaceAll(/\\(.)/g, (_, c: string) => ({ n: '\n', r: '\r' })[c] ?? c);
  }
  return out;
}

/**
 * Kratos maps a variable to the configuration key whose path, joined with `_` and upper-cased, is
 * its name (ory/x configx, guided by the schema); array values are comma-separated lists.
 */
function schemaPaths(schema: Schema, root: Schema, prefix: string[] = [], out = new Map<string, { path: string[]; array: boolean }>(), depth = 0): Map<string, { path: string[]; array: boolean }> {
  if (depth > 12) return out;
  let node = schema;
  const ref = node.$ref;
  if (typeof ref === 'string' && ref.startsWith('#/definitions/')) node = (root.definitions as Record<string, Schema>)[ref.slice('#/definitions/'.length)]!;
  if (prefix.length > 0) out.set(prefix.join('_').toUpperCase().replaceAll('-', '_'), { path: prefix, array: node.type === 'array' });
  for (const [key, child] of Object.entries((node.properties as Record<string, Schema> | undefined) ?? {})) schemaPaths(child, root, [...prefix, key], out, depth + 1);
  return out;
}

function applyEnv(doc: Record<string, unknown>, env: Record<string, string>, schema: Schema): Record<string, unknown> {
  const paths = schemaPaths(schema, schema);
  const merged = structuredClone(doc);
  for (const [name, value] of Object.entries(env)) {
    const target = paths.get(name);
    if (!target) continue;
    let node = merged;
    for (const key of target.path.slice(0, -1)) node = (node[key] ??= {}) as Record<string, unknown>;
    node[target.path.at(-1)!] = target.array ? value.split(',') : value;
  }
  return merged;
}

/**
 * The `email` format as Kratos checks it (ory/jsonschema v3.0.8 formats.go: at most 254
 * characters, a local part of at most 64, a host name after the last `@`, then Go's
 * net/mail.ParseAddress). Unlike ajv-formats' own, a host name without a dot passes:
 * `no-reply@localhost` is a sender Kratos accepts.
 */
function isKratosEmail(value: string): boolean {
  const at = value.lastIndexOf('@');
  if (value.length > 254 || at < 1) return false;
  const local = value.slice(0, at);
  const domain = value.slice(at + 1);
  return (
    local.length <= 64 &&
    /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/.test(local) &&
    domain.length <= 253 &&
    /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(domain)
  );
}

// ajv-formats is CommonJS: its plugin is the module's `default` export.
const addFormats = ajvFormats.default;

let validate: ValidateFunction;
let kratosSchema: Schema;

beforeAll(() => {
  kratosSchema = readJson('config.schema.v1.3.0.json');
  // Kratos's schema uses keywords of its own JSON Schema library (examples, ...): strict mode off.
  // Its patterns are Go regular expressions (a lone `]` is a literal there): compiled without the
  // `u` flag, which would reject them.
  const regExp = Object.assign((pattern: string) => new RegExp(pattern), { code: 'new RegExp' });
  const ajv = new Ajv({ strict: false, allErrors: true, code: { regExp } });
  addFormats(ajv);
  ajv.addFormat('email', isKratosEmail);
  ajv.addSchema(readJson('tracing-config.schema.json'));
  validate = ajv.compile(kratosSchema);
});

/** kratos.yml of a render merged with the variables of env/kratos.env, as Kratos sees it. */
function kratosView(configInput: Parameters<typeof makeConfig>[0] = {}, profile = 'default'): { doc: Record<string, unknown>; env: Record<string, string> } {
  const stack = render(makeConfig(configInput), profile, { secrets: SECRETS });
  const yml = stack.files.get(serviceConfigPath('kratos', 'kratos.yml'))!.content;
  const env = parseEnvFile(stack.files.get(envFilePath('kratos'))!.content);
  return { doc: applyEnv(parseYaml(yml) as Record<string, unknown>, env, kratosSchema), env };
}

function errorsOf(doc: unknown): string[] {
  return validate(doc) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`);
}

describe('kratos.yml against the Kratos v1.3.0 configuration schema', () => {
  it('is valid with the default config, the environment supplying DSN, secrets and SMTP', () => {
    const { doc, env } = kratosView();
    expect(Object.keys(env).sort()).toEqual(['COURIER_SMTP_CONNECTION_URI', 'DSN', 'SECRETS_CIPHER', 'SECRETS_COOKIE', 'SECRETS_DEFAULT']);
    expect(doc.dsn).toMatch(/^postgres:\/\/kratos_user:/);
    expect((doc.secrets as Record<string, string[]>).cipher?.[0]).toHaveLength(32);
    expect(errorsOf(doc)).toEqual([]);
  });

  it('is valid for a public host name on 443, every sign-in method off but the email code, and a TLS relay with a login', () => {
    const stack = render(
      makeConfig({
        hostname: 'sting.example.com',
        ports: { frontend: 443 },
        auth: { methods: { webauthn: false, totp: false, password: false }, session_lifetime: '8h', session_idle_timeout: '30m' },
        mail: { from_address: 'sting@example.com', smtp: { host: 'smtp.example.com', port: 465, tls: 'tls', username: 'relay' } },
      }),
      'full',
      { secrets: mapSecretsProvider(Object.fromEntries(SECRET_SPECS.map((s) => [s.id, 'k'.repeat(s.generator.length)])), { 'mail/smtp#password': 'relay pass' }) },
    );
    const env = parseEnvFile(stack.files.get(envFilePath('kratos'))!.content);
    const doc = applyEnv(parseYaml(stack.files.get(serviceConfigPath('kratos', 'kratos.yml'))!.content) as Record<string, unknown>, env, kratosSchema);
    expect((doc.courier as { smtp: { connection_uri: string } }).smtp.connection_uri).toBe('smtps://relay:relay%20pass@smtp.example.com:465/');
    expect(errorsOf(doc)).toEqual([]);
  });

  it('rejects what Kratos would refuse: no DSN, a cipher secret of the wrong length, an unknown key, a bad AAL, a bad sender', () => {
    const { doc } = kratosView();
    const without = structuredClone(doc);
    delete without.dsn;
    expect(errorsOf(without).join('\n')).toContain("must have required property 'dsn'");

    const shortCipher = structuredClone(doc);
    (shortCipher.secrets as Record<string, string[]>).cipher = ['too-short'];
    expect(errorsOf(shortCipher).join('\n')).toContain('/secrets/cipher/0');

    const unknown = structuredClone(doc) as { session: Record<string, unknown> };
    unknown.session.cookie_name = 'sting_session';
    expect(errorsOf(unknown).join('\n')).toContain('/session must NOT have additional properties');

    const aal = structuredClone(doc) as { session: { whoami: Record<string, unknown> } };
    aal.session.whoami.required_aal = 'aal3';
    expect(errorsOf(aal).join('\n')).toContain('/session/whoami/required_aal');

    const sender = structuredClone(doc) as { courier: { smtp: Record<string, unknown> } };
    sender.courier.smtp.from_address = 'no-reply at localhost';
    expect(errorsOf(sender).join('\n')).toContain('/courier/smtp/from_address must match format "email"');
  });
});

describe('kratos.yml as STING-CE reads it', () => {
  it('names the session cookie the app reads, keeps whoami at aal1 and serves TLS on both ports', () => {
    const { doc } = kratosView();
    const session = doc.session as { cookie: { name: string }; whoami: { required_aal: string } };
    expect(session.cookie.name).toBe('ory_kratos_session');
    expect(session.whoami.required_aal).toBe('aal1');
    const serve = doc.serve as Record<'public' | 'admin', { tls: { cert: { path: string }; key: { path: string } }; base_url: string }>;
    for (const side of ['public', 'admin'] as const) {
      expect(serve[side].tls).toEqual({ cert: { path: '/etc/certs/server.crt' }, key: { path: '/etc/certs/server.key' } });
    }
    expect(serve.admin.base_url).toBe('https://kratos:4434/');
  });

  it('has a public base URL the UI can prefix with /.ory once: the frontend origin, never ending in /.ory', () => {
    for (const [input, expected] of [
      [{}, 'https://localhost:3010/'],
      [{ hostname: 'sting.example.com', ports: { frontend: 443 } }, 'https://sting.example.com/'],
    ] as const) {
      const { doc } = kratosView(input);
      const base = (doc.serve as { public: { base_url: string } }).public.base_url;
      expect(base).toBe(expected);
      // The UI's rewrite (EnhancedKratosLogin.jsx): `/.ory${new URL(action).pathname}`.
      expect(`/.ory${new URL(`${base}self-service/login`).pathname}`).toBe('/.ory/self-service/login');
    }
  });

  it('takes session lifetime and re-authentication age from config, and sends mail through Mailpit by default', () => {
    const { doc, env } = kratosView({ auth: { session_lifetime: '12h', session_idle_timeout: '45m' } });
    expect((doc.session as { lifespan: string }).lifespan).toBe('12h');
    expect((doc.selfservice as { flows: { settings: { privileged_session_max_age: string } } }).flows.settings.privileged_session_max_age).toBe('45m');
    expect(env.COURIER_SMTP_CONNECTION_URI).toBe('smtp://mailpit:1025/?disable_starttls=true');
  });

  it('enables the sign-in methods config asks for, with WebAuthn as the second factor STING-CE uses', () => {
    const methods = (input: Parameters<typeof makeConfig>[0]) =>
      (kratosView(input).doc.selfservice as { methods: Record<string, { enabled: boolean; passwordless_enabled?: boolean; config?: { passwordless?: boolean; rp?: { origins: string[] } } }> })
        .methods;
    const all = methods({});
    expect(all.code).toMatchObject({ enabled: true, passwordless_enabled: true });
    expect(all.webauthn).toMatchObject({ enabled: true, config: { passwordless: false, rp: { origins: ['https://localhost:3010'] } } });
    expect(all.totp!.enabled).toBe(true);
    expect(all.password!.enabled).toBe(true);
    const codeOnly = methods({ auth: { methods: { webauthn: false, totp: false, password: false } } });
    expect([codeOnly.code!.enabled, codeOnly.webauthn!.enabled, codeOnly.totp!.enabled, codeOnly.password!.enabled, codeOnly.lookup_secret!.enabled]).toEqual([true, false, false, false, false]);
  });

  it("gives users no way to edit their own traits (and so their role) unless auth.profile_editing asks, and stays valid either way", () => {
    const profileOf = (input: Parameters<typeof makeConfig>[0]) => {
      const { doc } = kratosView(input);
      expect(errorsOf(doc)).toEqual([]);
      return (doc.selfservice as { methods: { profile: { enabled: boolean } } }).methods.profile;
    };
    // Kratos enables the settings flow's profile method when the key is absent, so it must be written out.
    expect(profileOf({})).toEqual({ enabled: false });
    expect(profileOf({ auth: { profile_editing: true } })).toEqual({ enabled: true });
  });
});

describe('identity schema', () => {
  function compileIdentity(): ValidateFunction {
    const stack = render(makeConfig(), 'default');
    const schema = JSON.parse(stack.files.get(serviceConfigPath('kratos', 'identity.schema.json'))!.content) as Schema;
    const ajv = new Ajv({ strict: false });
    addFormats(ajv);
    return ajv.compile(schema);
  }

  it("is an identity schema Kratos v1.3.0 loads (its identity meta-schema), and a wrong credential key is not", () => {
    const ajv = new Ajv({ strict: false, allErrors: true });
    addFormats(ajv);
    ajv.addSchema(readJson('identity_extension.schema.json'));
    const meta = ajv.compile(readJson('identity_meta.schema.json'));
    const schema = JSON.parse(render(makeConfig(), 'default').files.get(serviceConfigPath('kratos', 'identity.schema.json'))!.content) as {
      properties: { traits: { properties: { email: Record<string, { credentials: Record<string, unknown> }> } } };
    };
    expect(meta(schema), JSON.stringify(meta.errors)).toBe(true);
    const broken = structuredClone(schema);
    broken.properties.traits.properties.email['ory.sh/kratos']!.credentials.passkey = { identifier: true };
    expect(meta(broken)).toBe(false);
  });

  it("accepts the traits STING-CE's app and admin tools write", () => {
    const valid = compileIdentity();
    const identity = {
      traits: {
        email: 'admin@example.com',
        name: { first: 'Ada', last: 'Lovelace' },
        role: 'admin',
        force_password_change: true,
        password_change_grace_period: true,
        grace_period_expires: '2026-01-01T00:00:00',
        profile: { organization: 'STING' },
        totp_enabled: false,
        passkeys_enabled: true,
      },
    };
    expect(valid(identity), JSON.stringify(valid.errors)).toBe(true);
  });

  it('cannot mark the role read-only: Kratos v1.3.0 identity schemas have no such extension', () => {
    const ajv = new Ajv({ strict: false, allErrors: true });
    addFormats(ajv);
    ajv.addSchema(readJson('identity_extension.schema.json'));
    const meta = ajv.compile(readJson('identity_meta.schema.json'));
    const schema = JSON.parse(render(makeConfig(), 'default').files.get(serviceConfigPath('kratos', 'identity.schema.json'))!.content) as {
      properties: { traits: { properties: { role: Record<string, unknown> } } };
    };
    for (const marker of [{ read_only: true }, { readonly: true }, { settings: { disabled: true } }]) {
      const attempt = structuredClone(schema);
      attempt.properties.traits.properties.role['ory.sh/kratos'] = marker;
      expect(meta(attempt), JSON.stringify(marker)).toBe(false);
    }
  });

  it('requires an email and keeps the role to the four roles', () => {
    const valid = compileIdentity();
    expect(valid({ traits: { role: 'user' } })).toBe(false);
    expect(valid({ traits: { email: 'a@example.com', role: 'root' } })).toBe(false);
    for (const role of ['admin', 'moderator', 'user', 'viewer']) expect(valid({ traits: { email: 'a@example.com', role } })).toBe(true);
  });
});
