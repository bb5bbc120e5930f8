import { execa } from 'execa';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** The built CLI (run `npm run build` first), in a temporary home. */
const root = resolve(import.meta.dirname, '../..');
const bin = join(root, 'bin', 'msting.js');
const FIXTURE = join(root, 'test', 'fixtures', 'sting-ce-config', 'config.yml');
const SECRETS = ['pg-Fake-Passw0rd-1234', 'Fake-Smtp-Relay-Secret', 'Fake-Grafana-Admin-Pass', 'hf_FakeTokenFakeTokenFakeToken0123', 'sk-FakeOpenAIKeyFakeOpenAIKey0123'];

let home: string;

function msting(...args: string[]) {
  return execa(process.execPath, [bin, ...args], {
    reject: false,
    env: { MSTING_HOME: home, NO_COLOR: '1', CI: '1' },
    extendEnv: false,
  });
}

describe('msting config import, end to end', () => {
  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'msting-e2e-import-'));
  });
  afterAll(async () => {
    await rm(home, { recursive: true, force: true });
  });

  it('imports a STING-CE config.yml, and the result round-trips through config validate, show and get', async () => {
    const imported = await msting('config', 'import', FIXTURE);
    expect(imported.exitCode).toBe(0);
    expect(imported.stdout).toContain('system.domain -> hostname = "sting.example.com"');
    expect(imported.stdout).toContain('llm_service.huggingface.token (value not shown): secret, not copied: store it in Vault with `msting vault-secret set huggingface`');
    const path = join(home, 'conf', 'config.yml');
    expect(imported.stderr).toContain(`wrote ${path}`);
    const text = await readFile(path, 'utf8');
    for (const secret of SECRETS) expect(imported.stdout + imported.stderr + text).not.toContain(secret);

    const valid = await msting('config', 'validate');
    expect(valid.exitCode).toBe(0);
    expect(valid.stdout).toBe(`valid: ${path}`);
    const json = await msting('--json', 'config', 'validate');
    expect(JSON.parse(json.stdout)).toMatchObject({ valid: true, errors: [], warnings: [] });

    expect((await msting('config', 'get', 'hostname')).stdout).toBe('sting.example.com');
    expect((await msting('config', 'get', 'ports.frontend')).stdout).toBe('8443');
    expect((await msting('config', 'get', 'mail.smtp.tls')).stdout).toBe('starttls');
    expect((await msting('config', 'get', 'llm.models.0.repo')).stdout).toBe('meta-llama/Llama-3.1-8B');
    const show = await msting('config', 'show');
    expect(show.exitCode).toBe(0);
    expect(show.stdout).toContain('retention: 336h');
  });

  it('a second import is refused without --force; with it the old file is kept as .bak', async () => {
    const path = join(home, 'conf', 'config.yml');
    const before = await readFile(path, 'utf8');
    const again = await msting('config', 'import', FIXTURE);
    expect(again.exitCode).toBe(1);
    expect(again.stderr).toContain('already exists');
    expect(await readFile(path, 'utf8')).toBe(before);
    const forced = await msting('config', 'import', FIXTURE, '--force');
    expect(forced.exitCode).toBe(0);
    expect(await readFile(`${path}.bak`, 'utf8')).toBe(before);
  });

  it('--json prints the report as one JSON document', async () => {
    const out = join(home, 'json-import.yml');
    const result = await msting('--json', 'config', 'import', FIXTURE, '--output', out);
    expect(result.exitCode).toBe(0);
    const doc = JSON.parse(result.stdout) as { path: string; mapped: { from: string; to: string }[]; dropped: { from: string; secret: boolean }[] };
    expect(doc.path).toBe(out);
    expect(doc.mapped).toContainEqual(expect.objectContaining({ from: 'observability.loki.storage.retention_period', to: 'observability.loki.retention' }));
    expect(doc.dropped).toContainEqual(expect.objectContaining({ from: 'database.password', secret: true }));
    expect((await msting('--config', out, 'config', 'validate')).exitCode).toBe(0);
  });

  it('an unknown or unreadable file exits 3 with the reason and a hint', async () => {
    const other = join(home, 'compose.yml');
    await writeFile(other, 'services:\n  web:\n    image: nginx\n');
    for (const [file, reason] of [
      [other, 'is YAML of another shape'],
      [join(home, 'missing.yml'), 'does not exist'],
      [home, 'is a directory'],
    ] as const) {
      const result = await msting('config', 'import', file, '--output', join(home, 'never.yml'));
      expect(result.exitCode).toBe(3);
      expect(result.stderr).toContain(reason);
      expect(result.stderr).toContain('hint:');
    }
    const json = await msting('--json', 'config', 'import', other);
    expect(json.exitCode).toBe(3);
    expect(JSON.parse(json.stdout)).toMatchObject({ error: { code: 'CONFIG_INVALID' } });
  });
});
