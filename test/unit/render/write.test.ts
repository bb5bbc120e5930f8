import { mkdtemp, readFile, rm, stat, writeFile, mkdir, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeRendered } from '../../../src/render/write.js';
import { makeConfig, render } from './fixtures.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'msting-render-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const mode = async (p: string) => (await stat(join(dir, p))).mode & 0o777;

describe('writeRendered', () => {
  it('writes env files 0600 in a 0700 folder and config files 0644', async () => {
    const stack = render(makeConfig(), 'default');
    const report = await writeRendered(stack.files, dir);
    expect(report.written.length).toBe(stack.files.size);
    expect(await mode('env')).toBe(0o700);
    expect(await mode('env/db.env')).toBe(0o600);
    expect(await mode('compose/docker-compose.yml')).toBe(0o644);
    expect(await mode('compose/config/kratos/kratos.yml')).toBe(0o644);
    expect(report.written.at(-1)).toBe('compose/docker-compose.yml');
  });

  it('leaves unchanged files alone and reports only what changed', async () => {
    await writeRendered(render(makeConfig(), 'default').files, dir);
    const past = new Date('2020-01-01T00:00:00Z');
    await utimes(join(dir, 'env/app.env'), past, past);
    const again = await writeRendered(render(makeConfig({ hostname: 'sting.example.com' }), 'default').files, dir);
    expect(again.written).toContain('compose/config/kratos/kratos.yml');
    expect(again.written).toContain('env/app.env');
    expect(again.unchanged).toContain('env/db.env');
    const same = await writeRendered(render(makeConfig({ hostname: 'sting.example.com' }), 'default').files, dir);
    expect(same.written).toEqual([]);
  });

  it('repairs a mode that was widened', async () => {
    const files = render(makeConfig(), 'default').files;
    await writeRendered(files, dir);
    const { chmod } = await import('node:fs/promises');
    await chmod(join(dir, 'env/db.env'), 0o644);
    const report = await writeRendered(files, dir);
    expect(report.written).toEqual(['env/db.env']);
    expect(await mode('env/db.env')).toBe(0o600);
  });

  it('keeps the user override file and removes files a later render drops', async () => {
    await writeRendered(render(makeConfig(), 'full').files, dir);
    await mkdir(join(dir, 'compose'), { recursive: true });
    await writeFile(join(dir, 'compose/docker-compose.override.yml'), 'services: {}\n');
    const report = await writeRendered(render(makeConfig(), 'default').files, dir);
    expect(report.removed).toContain('env/phi3.env');
    expect(report.removed).toContain('compose/config/llm-gateway/nginx.conf');
    expect(await readFile(join(dir, 'compose/docker-compose.override.yml'), 'utf8')).toBe('services: {}\n');
  });

  it('stops before writing when aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(writeRendered(render(makeConfig(), 'default').files, dir, { signal: controller.signal })).rejects.toThrow(/interrupted/);
    await expect(stat(join(dir, 'compose/docker-compose.yml'))).rejects.toThrow();
  });
});

describe('writeRendered keep', () => {
  it('leaves kept files in place and never removes them as stale', async () => {
    const files = render(makeConfig(), 'default').files;
    await writeRendered(files, dir);
    const without = new Map(files);
    without.delete('env/app.env');
    const report = await writeRendered(without, dir, { keep: ['env/app.env'] });
    expect(report.removed).toEqual([]);
    const again = await writeRendered(without, dir, { keep: ['env/app.env'] });
    expect(again.removed).toEqual([]);
    expect(await readFile(join(dir, 'env/app.env'), 'utf8')).toBe(files.get('env/app.env')!.content);
  });
});
