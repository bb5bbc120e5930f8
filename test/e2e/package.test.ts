import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');

describe('npm package', () => {
  const work = mkdtempSync(join(tmpdir(), 'msting-pack-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('packs, installs globally into a prefix, and runs', () => {
    // --ignore-scripts: dist/ is already built by `npm test`; prepack would rebuild it.
    const out = execFileSync('npm', ['pack', '--ignore-scripts', '--pack-destination', work, '--json'], { cwd: root, encoding: 'utf8' });
    const [info] = JSON.parse(out) as [{ filename: string; files: { path: string }[] }];
    const paths = info.files.map((f) => f.path);
    expect(paths).toContain('bin/msting.js');
    expect(paths).toContain('dist/cli.js');
    expect(paths.some((p) => p.startsWith('test/'))).toBe(false);
    expect(paths.some((p) => p.startsWith('src/'))).toBe(false);

    const prefix = join(work, 'prefix');
    const tarball = join(work, readdirSync(work).find((f) => f.endsWith('.tgz'))!);
    execFileSync('npm', ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', '--ignore-scripts', tarball], { encoding: 'utf8', stdio: 'pipe' });
    const bin = join(prefix, 'bin', 'msting');
    const version = execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim();
    expect(version).toMatch(/^\d+\.\d+\.\d+/);
    const help = execFileSync(bin, ['--help'], { encoding: 'utf8' });
    expect(help).toContain('config');
    expect(help).toContain('install');
  }, 180_000);
});
