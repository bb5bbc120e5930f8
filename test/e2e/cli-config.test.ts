import { execa } from 'execa';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** The built CLI (run `npm run build` first), in a temporary home. */
const root = resolve(import.meta.dirname, '../..');
const bin = join(root, 'bin', 'msting.js');

let home: string;

function msting(...args: string[]) {
  return execa(process.execPath, [bin, ...args], {
    reject: false,
    env: { MSTING_HOME: home, NO_COLOR: '1', CI: '1' },
    extendEnv: false,
  });
}

async function listTree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  return entries.map((e) => relative(dir, join(dir, e))).sort();
}

describe('msting config, end to end', () => {
  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'msting-e2e-config-'));
  });
  afterAll(async () => {
    await rm(home, { recursive: true, force: true });
  });

  it('--help lists the config commands and --version prints the package version', async () => {
    const help = await msting('--help');
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toContain('config');
    const configHelp = await msting('config', '--help');
    for (const sub of ['init', 'validate', 'show', 'get', 'set', 'path']) expect(configHelp.stdout).toContain(sub);
    const version = await msting('--version');
    const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string };
    expect(version.stdout.trim()).toBe(pkg.version);
  });

  it('config init writes the starter, which validates; a second init is refused', async () => {
    const first = await msting('config', 'init');
    expect(first.exitCode).toBe(0);
    const path = join(home, 'conf', 'config.yml');
    const written = await readFile(path, 'utf8');
    expect(written).toContain('# yaml-language-server: $schema=');

    const again = await msting('config', 'init');
    expect(again.exitCode).toBe(1);
    expect(again.stderr).toContain('already exists');
    expect(again.stderr).toContain('--force');
    expect(await readFile(path, 'utf8')).toBe(written);

    const valid = await msting('config', 'validate');
    expect(valid.exitCode).toBe(0);
    expect(valid.stdout).toContain('valid');
  });

  it('config validate on a bad file exits 3, lists every problem with line:column, and writes nothing', async () => {
    const bad = join(home, 'bad.yml');
    await writeFile(bad, 'ports:\n  app: 70000\n  grafana: 3010\nvault:\n  treshold: 2\nprofile: ful\n');
    const before = await listTree(home);
    const result = await msting('--config', bad, 'config', 'validate');
    expect(result.exitCode).toBe(3);
    expect(result.stdout).toBe('');
    const lines = result.stderr.split('\n');
    expect(lines).toContain(`  ${bad}:2:8: ports.app: expected a port from 1 to 65535, got 70000`);
    expect(lines).toContain(`  ${bad}:3:12: ports.grafana: host port 3010 is also used by ports.frontend (its default) (two services cannot publish one host port; change ports.grafana or ports.frontend)`);
    expect(lines).toContain(`  ${bad}:5:3: vault.treshold: unknown key "treshold" (did you mean "threshold"?)`);
    expect(lines).toContain(`  ${bad}:6:10: profile: unknown profile "ful" (did you mean "full"?)`);
    expect(await listTree(home)).toEqual(before);

    const json = await msting('--json', '--config', bad, 'config', 'validate');
    expect(json.exitCode).toBe(3);
    const doc = JSON.parse(json.stdout) as { valid: boolean; errors: { line: number; column: number }[] };
    expect(doc.valid).toBe(false);
    expect(doc.errors.map((e) => `${e.line}:${e.column}`)).toEqual(['2:8', '3:12', '5:3', '6:10']);
  });

  it('config set edits the file, config get reads it back, an invalid set changes nothing', async () => {
    const path = join(home, 'conf', 'config.yml');
    expect((await msting('config', 'set', 'ports.frontend', '8443')).exitCode).toBe(0);
    expect((await msting('config', 'get', 'ports.frontend')).stdout).toBe('8443');
    const text = await readFile(path, 'utf8');
    expect(text).toContain('  frontend: 8443\n');
    expect(text).toContain('# Host ports. Only the frontend is published by default');

    const invalid = await msting('config', 'set', 'ports.app', '8443');
    expect(invalid.exitCode).toBe(3);
    expect(await readFile(path, 'utf8')).toBe(text);

    const unknown = await msting('config', 'get', 'ports.frontnd');
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain('did you mean "ports.frontend"?');
  });

  it('config path and --config naming a missing file', async () => {
    const path = await msting('--json', 'config', 'path');
    expect(JSON.parse(path.stdout)).toEqual({ home, config: join(home, 'conf', 'config.yml'), exists: true, explicit: false });
    const missing = await msting('--config', join(home, 'nope.yml'), 'config', 'show');
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain('does not exist');
  });
});
