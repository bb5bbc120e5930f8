import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { run as get } from '../../../src/commands/config-get.js';
import { run as init } from '../../../src/commands/config-init.js';
import { run as path } from '../../../src/commands/config-path.js';
import { run as show } from '../../../src/commands/config-show.js';
import { run as validate } from '../../../src/commands/config-validate.js';
import { MASK, maskSecrets } from '../../../src/config/mask.js';
import { makeContext } from './helpers.js';

async function withConfig(text: string, options: Parameters<typeof makeContext>[0] = {}) {
  const captured = await makeContext(options);
  await mkdir(dirname(captured.ctx.configPath), { recursive: true });
  await writeFile(captured.ctx.configPath, text);
  return captured;
}

describe('msting config init', () => {
  it('writes the starter config (0644), creating directories, and refuses to overwrite it', async () => {
    const { ctx } = await makeContext();
    await init({ force: false }, ctx);
    const text = await readFile(ctx.configPath, 'utf8');
    expect(text).toContain('# yaml-language-server: $schema=');
    expect((await stat(ctx.configPath)).mode & 0o777).toBe(0o644);
    await writeFile(ctx.configPath, 'hostname: mine.example\n');
    const err = await init({ force: false }, ctx).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CONFIG_EXISTS', exitCode: 1 });
    expect((err as { hint: string }).hint).toContain('--force');
    expect(await readFile(ctx.configPath, 'utf8')).toBe('hostname: mine.example\n');
  });

  it('replaces with --force and keeps the old file as .bak', async () => {
    const { ctx } = await withConfig('hostname: mine.example\n');
    await init({ force: true }, ctx);
    expect(await readFile(`${ctx.configPath}.bak`, 'utf8')).toBe('hostname: mine.example\n');
    expect(await readFile(ctx.configPath, 'utf8')).toContain('msting config.yml');
  });
});

describe('msting config validate', () => {
  it('says the file is valid and shows warnings with their position', async () => {
    const { ctx, stdout, stderr } = await withConfig('vault:\n  shares: 1\n  threshold: 1\n');
    expect(await validate({}, ctx)).toBe(0);
    expect(stdout()).toBe(`valid: ${ctx.configPath} (1 warning)\n`);
    expect(stderr()).toContain(`warning: ${ctx.configPath}:3:14: vault.threshold: one unseal share`);
  });

  it('throws one CONFIG_INVALID report with a line per problem', async () => {
    const { ctx } = await withConfig('ports:\n  app: 0\nvault:\n  treshold: 2\n');
    const err = await validate({}, ctx).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CONFIG_INVALID', exitCode: 3 });
    expect((err as { details: string[] }).details).toEqual([
      `${ctx.configPath}:2:8: ports.app: expected a port from 1 to 65535, got 0`,
      `${ctx.configPath}:4:3: vault.treshold: unknown key "treshold" (did you mean "threshold"?)`,
    ]);
  });

  it('prints {valid, errors, warnings} under --json and exits 3 when invalid', async () => {
    const { ctx, stdout } = await withConfig('ports:\n  app: 0\n', { json: true });
    expect(await validate({}, ctx)).toBe(3);
    const doc = JSON.parse(stdout()) as { valid: boolean; errors: unknown[]; warnings: unknown[] };
    expect(doc.valid).toBe(false);
    expect(doc.errors).toEqual([{ path: 'ports.app', line: 2, column: 8, message: 'expected a port from 1 to 65535, got 0', hint: null, source: 'file' }]);
    expect(doc.warnings).toEqual([]);
  });

  it('writes nothing anywhere, even when the home does not exist', async () => {
    const { ctx } = await makeContext();
    await validate({}, ctx);
    expect(await readdir(ctx.home)).toEqual([]);
  });
});

describe('msting config show', () => {
  it('prints the effective config as YAML, with overrides and derived values', async () => {
    const { ctx, stdout } = await withConfig('hostname: sting.example.com\n', { env: { MSTING_VERSION: '2.1.0' } });
    await show({}, ctx);
    const shown = parse(stdout()) as { images: { version: string }; mail: { from_address: string }; ports: Record<string, number> };
    expect(shown.images.version).toBe('2.1.0');
    expect(shown.mail.from_address).toBe('no-reply@sting.example.com');
    // Only the frontend is published unless config.yml says otherwise.
    expect(shown.ports).toEqual({ frontend: 3010 });
  });

  it('masks credentials in URLs and keeps vault-refs as written', async () => {
    // Free text is the one place such a URL still validates (an image reference has no password).
    const text = 'mail:\n  from_name: https://robot:hunter2@registry.local/sting/app:1\n  smtp:\n    username: vault-ref:mail/smtp#user\n';
    const { ctx, stdout } = await withConfig(text, { json: true });
    await show({}, ctx);
    const doc = JSON.parse(stdout()) as { mail: { from_name: string; smtp: { username: string } } };
    expect(doc.mail.from_name).toBe(`https://robot:${MASK}@registry.local/sting/app:1`);
    expect(stdout()).not.toContain('hunter2');
    expect(doc.mail.smtp.username).toBe('vault-ref:mail/smtp#user');
  });
});

describe('maskSecrets', () => {
  it('masks text under secret-named keys and resolved vault-refs, and nothing else', () => {
    const masked = maskSecrets(
      { smtp: { password: 'p4ss', username: 'me' }, api_key: 'k', token: '', keep_root_token: false, host: 'from-vault' },
      ['host'],
    );
    expect(masked).toEqual({ smtp: { password: MASK, username: 'me' }, api_key: MASK, token: '', keep_root_token: false, host: MASK });
  });
});

describe('msting config get', () => {
  it('prints scalars plain, objects as YAML, JSON under --json', async () => {
    const a = await withConfig('ports:\n  frontend: 8443\n');
    await get({ key: 'ports.frontend' }, a.ctx);
    expect(a.stdout()).toBe('8443\n');
    const b = await withConfig('');
    await get({ key: 'vault' }, b.ctx);
    expect(parse(b.stdout())).toMatchObject({ mode: 'server', shares: 5 });
    const c = await withConfig('', { json: true });
    await get({ key: 'llm.models[1].repo' }, c.ctx);
    expect(JSON.parse(c.stdout())).toBe('microsoft/Phi-3-medium-128k-instruct');
  });

  it('prints an empty line for an optional key that is not set', async () => {
    const { ctx, stdout } = await withConfig('');
    await get({ key: 'mail.smtp.username' }, ctx);
    expect(stdout()).toBe('\n');
  });

  it('refuses an unknown key with exit 2 and a suggestion', async () => {
    const { ctx } = await withConfig('');
    const err = await get({ key: 'ports.grafna' }, ctx).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CONFIG_KEY', exitCode: 2, hint: 'did you mean "ports.grafana"?' });
  });
});

describe('msting config path', () => {
  it('prints the home, the config file and whether it exists', async () => {
    const { ctx, stdout } = await makeContext({ json: true });
    await path({}, ctx);
    expect(JSON.parse(stdout())).toEqual({ home: ctx.home, config: ctx.configPath, exists: false, explicit: false });
  });
});
