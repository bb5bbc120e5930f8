import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import { configSchema } from '../../../src/config/schema.js';
import { starterConfig, TEMPLATE_FILE } from '../../../src/config/template.js';
import { validateConfigText } from '../../../src/config/validate.js';
import { isMstingError } from '../../../src/errors.js';

describe('defaults', () => {
  it('an empty file is a working config with every default', () => {
    for (const text of ['', '\n', '# only a comment\n', '---\n']) {
      const result = validateConfigText(text);
      expect(result.errors).toEqual([]);
      expect(result.config?.project.name).toBe('sting-ce');
      expect(result.config?.ports.frontend).toBe(3010);
      expect(result.config?.vault).toMatchObject({ mode: 'server', shares: 5, threshold: 3 });
      expect(result.config?.llm.models.map((m) => m.name)).toEqual(['llama3', 'phi3', 'zephyr']);
    }
  });

  it('derives mail.from_address from the hostname unless it is set', () => {
    expect(validateConfigText('hostname: sting.example.com\n').config?.mail.from_address).toBe('no-reply@sting.example.com');
    expect(validateConfigText('mail:\n  from_address: ops@example.org\n').config?.mail.from_address).toBe('ops@example.org');
  });

  it('treats a key left empty as not set, so its section keeps its defaults', () => {
    const result = validateConfigText('app:\nvault:\n  shares:\n');
    expect(result.errors).toEqual([]);
    expect(result.config?.app.env).toBe('production');
    expect(result.config?.vault.shares).toBe(5);
  });

  it('loads defaults when the config file does not exist and --config did not name it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'msting-load-'));
    const loaded = await loadConfig({ configPath: join(dir, 'conf', 'config.yml'), configExplicit: false, env: {} });
    expect(loaded.exists).toBe(false);
    expect(loaded.config.profile).toBe('default');
  });

  it('refuses a --config file that does not exist, with a hint', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'msting-load-'));
    const err = await loadConfig({ configPath: join(dir, 'nope.yml'), configExplicit: true, env: {} }).catch((e: unknown) => e);
    expect(isMstingError(err)).toBe(true);
    expect((err as Error).message).toContain('does not exist');
    expect((err as { hint: string }).hint).toContain('config init');
  });
});

describe('the starter config (templates/config.yml)', () => {
  it('validates without errors or warnings', async () => {
    const result = validateConfigText(await starterConfig());
    expect(result.errors).toEqual([]);
    expect(result.warnings).toEqual([]);
  });

  it('holds exactly the schema defaults, with every section present', async () => {
    const text = await readFile(TEMPLATE_FILE, 'utf8');
    const written = parse(text) as Record<string, unknown>;
    const defaults = configSchema.parse({});
    expect(Object.keys(written).sort()).toEqual(Object.keys(defaults).sort());
    expect(configSchema.parse(written)).toEqual(defaults);
  });

  it('points YAML editors at the JSON Schema', async () => {
    const text = await starterConfig('/x/config.schema.json');
    expect(text.split('\n')[0]).toBe('# yaml-language-server: $schema=/x/config.schema.json');
  });
});
