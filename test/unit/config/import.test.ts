import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { run as importCommand, type ConfigImportJson } from '../../../src/commands/config-import.js';
import { importStingConfig, renderImportedConfig, type ImportResult } from '../../../src/config/import.js';
import { validateConfigText } from '../../../src/config/validate.js';
import { makeContext } from './helpers.js';

const FIXTURE = resolve(import.meta.dirname, '../../fixtures/sting-ce-config/config.yml');
/** Every fake secret in the fixture: none may reach msting's config or the report. */
const FIXTURE_SECRETS = [
  'pg-Fake-Passw0rd-1234',
  'Fake-Smtp-Relay-Secret',
  'Fake-Grafana-Admin-Pass',
  'Fake-Grafana-Secret-Key-0123456789',
  'fake-webhook-signing-secret',
  'fake-github-oauth-client-secret',
  'hf_FakeTokenFakeTokenFakeToken0123',
  'sk-FakeOpenAIKeyFakeOpenAIKey0123',
];

async function fixture(): Promise<unknown> {
  return parse(await readFile(FIXTURE, 'utf8'));
}

function leaves(node: unknown, path: string[] = []): string[] {
  if (node !== null && typeof node === 'object' && !Array.isArray(node) && Object.keys(node).length > 0) {
    return Object.entries(node).flatMap(([k, v]) => leaves(v, [...path, k]));
  }
  if (Array.isArray(node) && node.some((v) => v !== null && typeof v === 'object')) return node.flatMap((v, i) => leaves(v, [...path, String(i)]));
  return [path.join('.')];
}

/** Each source key is in the report exactly once: mapped, dropped, or inside a dropped section. */
function expectAccountedFor(source: unknown, result: ImportResult): void {
  const reported = [...result.mapped.map((m) => m.from), ...result.dropped.flatMap((d) => d.keys ?? [d.from])];
  for (const leaf of leaves(source)) {
    expect(reported.filter((r) => r === leaf), `${leaf} is reported once`).toHaveLength(1);
  }
}

function mappedTo(result: ImportResult, to: string) {
  return result.mapped.find((m) => m.to === to);
}

function dropped(result: ImportResult, from: string) {
  return result.dropped.find((d) => d.from === from);
}

describe('importStingConfig on a STING-CE conf/config.yml', () => {
  it('maps host name, ports, app, database, auth, mail, models, observability and upload size', async () => {
    const result = importStingConfig(await fixture(), FIXTURE);
    expect(result.shape).toBe('sting-ce');
    expect(result.config).toMatchObject({
      hostname: 'sting.example.com',
      profile: 'observability',
      // Only the frontend's port: msting publishes nothing else unless asked (docs/security.md).
      ports: { frontend: 8443 },
      app: { env: 'production', debug: false, log_level: 'warning', max_upload_mb: 200 },
      database: { max_connections: 200 },
      auth: { session_lifetime: '12h', methods: { password: true, webauthn: true, code: true, totp: true } },
      mail: {
        from_address: 'no-reply@example.com',
        from_name: 'STING at Example',
        smtp: { host: 'smtp.example.com', port: 587, username: 'sting-relay@example.com', tls: 'starttls' },
      },
      llm: { device: 'cuda', precision: 'bf16', default_model: 'llama3', gateway: { read_timeout: '5m' } },
      observability: { loki: { retention: '336h' }, promtail: { pii_sanitization: true } },
    });
    expect(result.config.llm?.models).toEqual([
      { name: 'llama3', repo: 'meta-llama/Llama-3.1-8B', enabled: true, gated: true, exclude: ['original/**'], parameters_b: 8, quantization: 'int8' },
      { name: 'phi3', repo: 'microsoft/Phi-3-medium-128k-instruct', enabled: true, parameters_b: 14 },
      { name: 'deepseek-1-5b', repo: 'deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B', enabled: false, parameters_b: 1.5 },
    ]);
    expect(mappedTo(result, 'hostname')).toEqual({ from: 'system.domain', to: 'hostname', value: 'sting.example.com', note: 'from ${STING_HOSTNAME:-sting.example.com}' });
    expect(mappedTo(result, 'llm.models.2.name')?.note).toContain('renamed from "deepseek-1.5b"');
  });

  it('passes msting\'s own validation', async () => {
    const result = importStingConfig(await fixture(), FIXTURE);
    const checked = validateConfigText(JSON.stringify(result.config));
    expect(checked.errors).toEqual([]);
    expect(result.warnings).toEqual([]);
  });

  it('accounts for every key of the file exactly once', async () => {
    const source = await fixture();
    expectAccountedFor(source, importStingConfig(source, FIXTURE));
  });

  it('never copies a secret: each is dropped, not shown, and says where it goes', async () => {
    const result = importStingConfig(await fixture(), FIXTURE);
    const everything = JSON.stringify(result) + renderImportedConfig(result, { source: FIXTURE, schemaLocation: 's', date: 'd', version: 'v' });
    for (const secret of FIXTURE_SECRETS) expect(everything).not.toContain(secret);
    const secrets = Object.fromEntries(result.dropped.filter((d) => d.secret).map((d) => [d.from, d]));
    expect(Object.keys(secrets).sort()).toEqual(
      [
        'ai.openai.api_key',
        'database.password',
        'email_service.production.smtp.password',
        'kratos.courier.smtp.connection_uri',
        'kratos.methods.oidc.providers.0.client_secret',
        'licensing.license_key',
        'llm_service.huggingface.token',
        'observability.grafana.admin_password',
        'observability.grafana.secret_key',
        'pii_detection.integration.webhooks.endpoints.0.secret',
      ].sort(),
    );
    for (const entry of Object.values(secrets)) expect(entry).not.toHaveProperty('value');
    expect(secrets['llm_service.huggingface.token']!.reason).toContain('msting vault-secret set huggingface');
    expect(secrets['ai.openai.api_key']!.reason).toContain('msting vault-secret set openai');
    expect(secrets['database.password']!.reason).toContain('generates its own at `msting vault init`');
    expect(secrets['observability.grafana.admin_password']!.reason).toContain('generates its own');
    expect(secrets['email_service.production.smtp.password']!.reason).toContain('sting/mail/smtp, key password');
  });

  it('says why each key without a msting equivalent is dropped', async () => {
    const result = importStingConfig(await fixture(), FIXTURE);
    expect(dropped(result, 'system.protocol')).toMatchObject({ value: 'https', reason: 'msting always serves HTTPS' });
    expect(dropped(result, 'application.models_dir')?.reason).toContain('STING_MODELS_DIR');
    expect(dropped(result, 'application.ssl.email')?.reason).toContain('msting setup-ssl --domain HOST --email ADDRESS');
    expect(dropped(result, 'kratos.public_url')?.reason).toContain('from `hostname`');
    expect(dropped(result, 'kratos.cookie_domain')?.reason).toBe('same value as system.domain, already in hostname');
    expect(dropped(result, 'llm_service.models.phi3_mini')?.reason).toContain('"/app/models/phi-3-mini-4k" is a folder inside STING-CE\'s container');
    expect(dropped(result, 'llm_service.models.llama3.temperature')?.reason).toContain('generation setting');
    expect(dropped(result, 'chatbot.model')?.reason).toContain('msting has one llm.default_model; it took llm_service.default_model');
    expect(dropped(result, 'backup')?.reason).toContain('msting backup --output DIR --keep N');
    expect(dropped(result, 'email_service.development')?.reason).toContain('email_service.mode is production, so STING-CE did not use this section');
    const section = dropped(result, 'security.message_pii_protection');
    expect(section?.keys).toContain('security.message_pii_protection.serialization.token_format');
    expect(section?.secret).toBe(false);
  });

  it('writes a header naming the source and the STING-CE key beside each value; the text validates', async () => {
    const result = importStingConfig(await fixture(), FIXTURE);
    const text = renderImportedConfig(result, { source: FIXTURE, schemaLocation: '/schema.json', date: '2025-01-02', version: '1.2.3' });
    expect(text.split('\n').slice(0, 4)).toEqual([
      '# yaml-language-server: $schema=/schema.json',
      '#',
      `# msting config.yml, imported from the STING-CE config ${FIXTURE}`,
      '# by `msting config import` (msting 1.2.3) on 2025-01-02.',
    ]);
    expect(text).toContain('hostname: sting.example.com # from system.domain\n');
    expect(text).toContain('  frontend: 8443 # from system.ports.frontend\n');
    expect(validateConfigText(text).errors).toEqual([]);
    expect(parse(text)).toEqual(result.config);
  });
});

describe('importStingConfig: values and shapes', () => {
  it('resolves ${VAR:-default} from the environment, and drops a placeholder that resolves to nothing', () => {
    const doc = { system: { domain: '${STING_HOSTNAME:-dev-ubuntu.local}' }, email_service: { mode: 'development', development: { host: '${MAIL_HOST}', port: 1025 } } };
    const withEnv = importStingConfig(doc, 'c.yml', { env: { STING_HOSTNAME: 'ai.corp.example' } });
    expect(withEnv.config.hostname).toBe('ai.corp.example');
    const bare = importStingConfig(doc, 'c.yml', { env: {} });
    expect(bare.config.hostname).toBe('dev-ubuntu.local');
    expect(bare.config.mail).toEqual({ smtp: { port: 1025 } });
    expect(dropped(bare, 'email_service.development.host')?.reason).toBe(
      'empty: ${MAIL_HOST} names an environment variable that is not set here, so msting\'s default applies (`msting config set mail.smtp.host VALUE` sets one)',
    );
  });

  it('moves a value msting rejects to dropped with the validation message, so the result still validates', () => {
    const doc = { system: { domain: 'not a host name!', ports: { frontend: 70000 } }, application: { env: 'demo' } };
    const result = importStingConfig(doc, 'c.yml');
    expect(result.config).toEqual({});
    expect(dropped(result, 'system.domain')?.reason).toContain('msting rejects it for hostname');
    expect(dropped(result, 'system.ports.frontend')?.reason).toContain('70000');
    expect(dropped(result, 'application.env')?.reason).toBe('"demo" does not fit app.env (production or development; STING-CE\'s demo mode has no msting equivalent)');
    expect(validateConfigText(JSON.stringify(result.config)).errors).toEqual([]);
  });

  it('reads the shape STING-CE\'s architecture guide shows (app.flask, auth.kratos, database.postgresql, llm.models, observability)', () => {
    const doc = parse(`
app:
  flask:
    secret_key: vault-generated
    port: 5050
    debug: false
auth:
  kratos:
    public_url: https://localhost:4433
    admin_url: https://localhost:4434
database:
  postgresql:
    host: db
    port: 5432
    name: sting_app
llm:
  models:
    - name: llama3
      enabled: true
      memory_limit: 8G
    - name: phi3
      enabled: true
      memory_limit: 4G
observability:
  enabled: true
  profiles: [observability, full]
  grafana:
    enabled: true
    port: 3000
    admin_user: vault-ref:sting/data/grafana/admin_user
    admin_password: vault-ref:sting/data/grafana/admin_password
  loki:
    enabled: true
    port: 3100
    retention_period: 168h
    max_line_size: 256KB
  promtail:
    enabled: true
    port: 9080
    pii_sanitization: true
    vault_integration: true
    log_paths: [/var/log/sting-app/*.log]
`);
    const result = importStingConfig(doc, 'guide.yml');
    expect(result.shape).toBe('sting-ce');
    expect(result.config).toMatchObject({
      profile: 'observability',
      app: { debug: false },
      observability: { loki: { retention: '168h' }, promtail: { pii_sanitization: true } },
    });
    expect(result.config.llm?.models).toEqual([
      { name: 'llama3', repo: 'meta-llama/Llama-3.1-8B', enabled: true, gated: true, exclude: ['original/**'], parameters_b: 8, memory_limit: '8G' },
      { name: 'phi3', repo: 'microsoft/Phi-3-medium-128k-instruct', enabled: true, parameters_b: 14, memory_limit: '4G' },
    ]);
    expect(mappedTo(result, 'llm.models.0.repo')).toMatchObject({ from: 'llm.models.0', note: 'msting\'s repository for llama3' });
    expect(dropped(result, 'app.flask.secret_key')).toMatchObject({ secret: true });
    expect(dropped(result, 'observability.grafana.admin_password')).toMatchObject({ secret: true });
    expect(dropped(result, 'auth.kratos.public_url')?.reason).toContain('from `hostname`');
    expect(validateConfigText(JSON.stringify(result.config)).errors).toEqual([]);
    expectAccountedFor(doc, result);
  });

  it('reads the flat shape of conf/config_schema.py and drops its Keycloak keys', () => {
    const doc = { APP_PORT: 5050, FLASK_DEBUG: 'true', APP_ENV: 'development', REACT_PORT: 8443, POSTGRES_PASSWORD: 'postgres', KC_DB_PASSWORD: 'kc', KEYCLOAK_REALM: 'sting', KRATOS_ADMIN_PORT: 4434 };
    const result = importStingConfig(doc, 'flat.yml');
    expect(result.shape).toBe('sting-ce-flat');
    expect(result.config).toEqual({ app: { env: 'development', debug: true }, ports: { frontend: 8443 } });
    // STING-CE published the Kratos admin API; an import does not: it says how to, and why not.
    expect(dropped(result, 'KRATOS_ADMIN_PORT')?.reason).toContain('msting config set ports.kratos-admin 4434');
    expect(dropped(result, 'POSTGRES_PASSWORD')).toMatchObject({ secret: true });
    expect(dropped(result, 'KC_DB_PASSWORD')?.reason).toContain('Keycloak');
    expect(dropped(result, 'KEYCLOAK_REALM')?.reason).toContain('STING-CE replaced Keycloak with Ory Kratos');
    expectAccountedFor(doc, result);
  });

  it('takes Mailpit from the development section when STING-CE\'s email mode is development', () => {
    const doc = { email_service: { mode: '${EMAIL_MODE:-development}', development: { provider: 'mailpit', host: 'mailpit', port: 1025, tls_enabled: false }, production: { smtp: { host: 'smtp.example.com', password: 'x' } } } };
    const result = importStingConfig(doc, 'c.yml');
    expect(result.config).toEqual({ mail: { smtp: { host: 'mailpit', port: 1025, tls: 'none' } } });
    expect(dropped(result, 'email_service.production')).toMatchObject({ keys: ['email_service.production.smtp.host'] });
    expect(dropped(result, 'email_service.production.smtp.password')).toMatchObject({ secret: true });
  });

  it('picks an enabled imported model as the default when STING-CE names none msting has', () => {
    const doc = { llm_service: { default_model: 'ollama', models: { tinyllama: { path: 'TinyLlama/TinyLlama-1.1B-Chat-v1.0', size: '1.1B' } } } };
    const result = importStingConfig(doc, 'c.yml');
    expect(result.config.llm).toMatchObject({ default_model: 'tinyllama', models: [{ name: 'tinyllama', enabled: true, parameters_b: 1.1 }] });
    expect(dropped(result, 'llm_service.default_model')?.reason).toBe('not the name of an enabled model in llm.models (tinyllama)');
  });

  it.each([
    [null, 'is empty'],
    [['a', 'b'], 'is YAML, but a list, not a STING-CE config'],
    ['just text', 'is YAML, but a single value'],
    [{ hostname: 'x.example', ports: { frontend: 8443 } }, 'looks like msting\'s own config.yml, not STING-CE\'s'],
    [{ services: { web: { image: 'nginx' } } }, 'is YAML of another shape: none of STING-CE\'s sections'],
  ])('refuses %j with exit 3 and the reason', (doc, message) => {
    let error: unknown;
    try {
      importStingConfig(doc, 'in.yml');
    } catch (err) {
      error = err;
    }
    expect(error).toMatchObject({ code: 'CONFIG_INVALID', exitCode: 3 });
    expect((error as Error).message).toContain(message);
    expect((error as { hint?: string }).hint).toBeTruthy();
  });
});

describe('msting config import (command)', () => {
  async function sourceFile(text: string): Promise<string> {
    const { ctx } = await makeContext();
    const path = join(ctx.home, 'sting', 'conf', 'config.yml');
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, text);
    return path;
  }

  it('writes conf/config.yml (0644), reports every key, and refuses to overwrite without --force', async () => {
    const { ctx, stdout, stderr } = await makeContext();
    expect(await importCommand({ file: FIXTURE, force: false }, ctx)).toBe(0);
    const text = await readFile(ctx.configPath, 'utf8');
    expect(text).toContain(`# msting config.yml, imported from the STING-CE config ${FIXTURE}`);
    expect((await stat(ctx.configPath)).mode & 0o777).toBe(0o644);
    const report = stdout();
    expect(report).toMatch(/^mapped 38 keys:\n {2}system\.domain -> hostname = "sting\.example\.com" \(from \$\{STING_HOSTNAME:-sting\.example\.com\}\)\n/);
    expect(report).toContain('  database.password (value not shown): secret, not copied');
    expect(report).toContain('  system.protocol = "https": msting always serves HTTPS\n');
    for (const secret of FIXTURE_SECRETS) expect(report + stderr() + text).not.toContain(secret);
    expect(stderr()).toContain(`✔ wrote ${ctx.configPath} from ${FIXTURE}`);

    const again = await importCommand({ file: FIXTURE, force: false }, ctx).catch((e: unknown) => e);
    expect(again).toMatchObject({ code: 'CONFIG_EXISTS', exitCode: 1 });
    expect(await readFile(ctx.configPath, 'utf8')).toBe(text);
  });

  it('--force keeps the previous config as config.yml.bak', async () => {
    const { ctx } = await makeContext();
    await mkdir(dirname(ctx.configPath), { recursive: true });
    await writeFile(ctx.configPath, 'hostname: mine.example\n');
    await importCommand({ file: FIXTURE, force: true }, ctx);
    expect(await readFile(`${ctx.configPath}.bak`, 'utf8')).toBe('hostname: mine.example\n');
    expect(parse(await readFile(ctx.configPath, 'utf8'))).toMatchObject({ hostname: 'sting.example.com' });
  });

  it('--json prints the report as one document', async () => {
    const { ctx, stdout } = await makeContext({ json: true });
    await importCommand({ file: FIXTURE, force: false }, ctx);
    const doc = JSON.parse(stdout()) as ConfigImportJson;
    expect(doc).toMatchObject({ source: FIXTURE, path: ctx.configPath, shape: 'sting-ce', replaced: false, backup: null, warnings: [] });
    expect(doc.mapped).toContainEqual({ from: 'system.ports.frontend', to: 'ports.frontend', value: 8443 });
    expect(doc.dropped).toContainEqual(expect.objectContaining({ from: 'llm_service.huggingface.token', secret: true }));
  });

  it('--output - prints the config on stdout and the report on stderr, writing no file', async () => {
    const { ctx, stdout, stderr } = await makeContext();
    await importCommand({ file: FIXTURE, force: false, output: '-' }, ctx);
    expect(parse(stdout())).toMatchObject({ hostname: 'sting.example.com' });
    expect(stderr()).toContain('mapped 38 keys:');
    expect(await readdir(ctx.home)).toEqual([]);
    const json = await makeContext({ json: true });
    await expect(importCommand({ file: FIXTURE, force: false, output: '-' }, json.ctx)).rejects.toMatchObject({ code: 'USAGE', exitCode: 2 });
  });

  it('--output FILE writes there instead of the install\'s config.yml', async () => {
    const { ctx } = await makeContext();
    const target = join(ctx.home, 'elsewhere', 'imported.yml');
    await importCommand({ file: FIXTURE, force: false, output: target }, ctx);
    expect(validateConfigText(await readFile(target, 'utf8')).errors).toEqual([]);
    await expect(stat(ctx.configPath)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('points images.source_dir at the STING-CE source tree the file lies in, and only then', async () => {
    const { ctx, stdout } = await makeContext();
    const tree = join(ctx.home, 'sting-ce-src');
    await mkdir(join(tree, 'conf'), { recursive: true });
    await mkdir(join(tree, 'app'));
    await mkdir(join(tree, 'frontend'));
    await writeFile(join(tree, 'conf', 'config_loader.py'), '# loader\n');
    await writeFile(join(tree, 'docker-compose.yml'), 'services: {}\n');
    await writeFile(join(tree, 'conf', 'config.yml'), await readFile(FIXTURE, 'utf8'));
    const target = join(ctx.home, 'out.yml');
    await importCommand({ file: join(tree, 'conf', 'config.yml'), force: false, output: target }, ctx);
    expect(parse(await readFile(target, 'utf8'))).toMatchObject({ images: { source_dir: tree } });
    expect(stdout()).toContain(`(the file's location) -> images.source_dir = ${JSON.stringify(tree)}`);

    const copy = join(ctx.home, 'copy', 'conf', 'config.yml');
    await mkdir(dirname(copy), { recursive: true });
    await writeFile(copy, await readFile(FIXTURE, 'utf8'));
    await importCommand({ file: copy, force: true, output: target }, ctx);
    expect(parse(await readFile(target, 'utf8'))).not.toHaveProperty('images');
  });

  it.each([
    ['a missing file', async () => '/nonexistent/sting/conf/config.yml', 'does not exist'],
    ['a directory', async () => dirname(await sourceFile('system: {}\n')), 'is a directory, not a STING-CE config file'],
    ['a file that is not YAML', async () => sourceFile('system:\n  domain: [unclosed\n'), 'is not YAML'],
    ['binary data', async () => sourceFile('\u0000\u0001\u0002'), 'is not YAML (it holds binary data)'],
    ['YAML of another shape', async () => sourceFile('services:\n  web:\n    image: nginx\n'), 'is YAML of another shape'],
  ])('exits 3 for %s, with a hint, writing nothing', async (_name, make, message) => {
    const file = await make();
    const { ctx } = await makeContext();
    const err = await importCommand({ file, force: false }, ctx).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CONFIG_INVALID', exitCode: 3 });
    expect((err as Error).message).toContain(message);
    expect((err as { hint?: string }).hint).toBeTruthy();
    expect(await readdir(ctx.home)).toEqual([]);
  });
});

// The STING-CE source itself, when STING_CE_SRC names a tree: every config file it ships imports,
// validates, and is accounted for key by key.
const stingSrc = process.env.STING_CE_SRC;
describe.skipIf(!stingSrc)('config import on the config files of the STING-CE tree in STING_CE_SRC', () => {
  it('imports each conf/config*.yml* into a valid config, every key accounted for', async () => {
    const conf = join(stingSrc!, 'STING', 'conf');
    const dir = (await stat(conf).catch(() => undefined)) ? conf : join(stingSrc!, 'conf');
    const files = (await readdir(dir)).filter((f) => /^config.*\.yml/.test(f));
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      const source = parse(await readFile(join(dir, file), 'utf8'), { uniqueKeys: false }) as unknown;
      const result = importStingConfig(source, file);
      expect(validateConfigText(JSON.stringify(result.config)).errors, file).toEqual([]);
      expectAccountedFor(source, result);
    }
  });
});
if (!stingSrc) it.skip('config import on the real STING-CE config files: set STING_CE_SRC to a STING-CE tree', () => undefined);
