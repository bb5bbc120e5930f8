import { readFile, stat, writeFile, mkdir, chmod } from 'node:fs/promises';
import { dirname } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run as set } from '../../../src/commands/config-set.js';
import { setConfigValue } from '../../../src/config/edit.js';
import { validateConfigText } from '../../../src/config/validate.js';
import { makeContext } from './helpers.js';

const COMMENTED = `# STING on the lab server
hostname: sting.lab.example   # the one name

# Host ports
ports:
  frontend: 3010 # public UI
  app: 5050

llm:
  default_model: phi3
  models:
    # the small one
    - name: phi3
      repo: microsoft/Phi-3-medium-128k-instruct
      enabled: true
`;

describe('setConfigValue', () => {
  it('changes one value and keeps every comment, blank line and the order', () => {
    const { text } = setConfigValue(COMMENTED, 'ports.frontend', '8443', 'config.yml');
    expect(text).toBe(COMMENTED.replace('frontend: 3010 # public UI', 'frontend: 8443 # public UI'));
  });

  it('sets inside a list by index and adds a missing section at the end', () => {
    const { text } = setConfigValue(COMMENTED, 'llm.models.0.enabled', 'false', 'config.yml');
    expect(text).toBe(COMMENTED.replace('      enabled: true\n', '      enabled: false\n'));
    const added = setConfigValue(COMMENTED, 'vault.shares', '7', 'config.yml').text;
    // A structural edit goes through the yaml Document API: comments stay, spacing before a
    // trailing comment is normalized to one space.
    expect(added).toBe(`${COMMENTED.replace('example   #', 'example #')}vault:\n  shares: 7\n`);
  });

  it('parses the value as YAML: numbers, booleans, quoted text, null to remove', () => {
    expect(validateConfigText(setConfigValue('', 'stop_timeout', '60', 'c').text).config?.stop_timeout).toBe(60);
    expect(validateConfigText(setConfigValue('', 'app.debug', 'false', 'c').text).config?.app.debug).toBe(false);
    expect(setConfigValue('', 'images.version', '"2.0"', 'c').text).toBe('images:\n  version: "2.0"\n');
    expect(setConfigValue(COMMENTED, 'hostname', 'null', 'c').text).not.toContain('hostname');
  });

  it('starts a list the file does not have from its default, so indexes mean what `get` shows', () => {
    const { text } = setConfigValue('# mine\n', 'llm.models.2.enabled', 'true', 'c');
    const config = validateConfigText(text).config!;
    expect(config.llm.models.map((m) => [m.name, m.enabled])).toEqual([
      ['llama3', false],
      ['phi3', true],
      ['zephyr', true],
    ]);
    expect(text.startsWith('# mine\n')).toBe(true);
  });

  it('refuses an unknown key with a suggestion (exit 2)', () => {
    expect(() => setConfigValue(COMMENTED, 'ports.frontnd', '1', 'c')).toThrowError(expect.objectContaining({ code: 'CONFIG_KEY', exitCode: 2, hint: 'did you mean "ports.frontend"?' }));
    expect(() => setConfigValue(COMMENTED, 'llm.models.4.enabled', 'true', 'c')).toThrowError(expect.objectContaining({ code: 'CONFIG_KEY', exitCode: 2 }));
  });

  it('validates the whole result and throws exit 3 with the problem located', () => {
    const attempt = () => setConfigValue(COMMENTED, 'ports.app', '3010', 'config.yml');
    expect(attempt).toThrowError(expect.objectContaining({ code: 'CONFIG_INVALID', exitCode: 3 }));
    try {
      attempt();
    } catch (err) {
      expect((err as { details: string[] }).details).toEqual([
        'config.yml:6:13: ports.frontend: host port 3010 is also used by ports.app (two services cannot publish one host port; change ports.frontend or ports.app)',
      ]);
    }
  });
});

describe('msting config set', () => {
  it('writes the change and keeps the file mode', async () => {
    const { ctx, stderr } = await makeContext();
    await mkdir(dirname(ctx.configPath), { recursive: true });
    await writeFile(ctx.configPath, COMMENTED);
    await chmod(ctx.configPath, 0o640);
    await set({ key: 'ports.frontend', value: '8443' }, ctx);
    expect(await readFile(ctx.configPath, 'utf8')).toContain('frontend: 8443 # public UI');
    expect((await stat(ctx.configPath)).mode & 0o777).toBe(0o640);
    expect(stderr()).toContain('set ports.frontend = 8443');
  });

  it('leaves the file byte-identical when the result is invalid', async () => {
    const { ctx } = await makeContext();
    await mkdir(dirname(ctx.configPath), { recursive: true });
    await writeFile(ctx.configPath, COMMENTED);
    const before = await stat(ctx.configPath);
    const err = await set({ key: 'ports.app', value: '70000' }, ctx).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CONFIG_INVALID', exitCode: 3 });
    expect(await readFile(ctx.configPath, 'utf8')).toBe(COMMENTED);
    expect((await stat(ctx.configPath)).mtimeMs).toBe(before.mtimeMs);
  });

  it('creates the file (0644) when it is missing', async () => {
    const { ctx } = await makeContext();
    await set({ key: 'hostname', value: 'sting.example.com' }, ctx);
    expect(await readFile(ctx.configPath, 'utf8')).toBe('hostname: sting.example.com\n');
    expect((await stat(ctx.configPath)).mode & 0o777).toBe(0o644);
  });

  it('warns when an environment variable overrides the key it set', async () => {
    const { ctx, stderr } = await makeContext({ env: { MSTING_PROFILE: 'full' } });
    await set({ key: 'profile', value: 'observability' }, ctx);
    expect(stderr()).toContain('MSTING_PROFILE is set in this environment and overrides profile');
  });
});
