import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const bin = join(root, 'bin', 'msting.js');
const hook = join(root, 'test', 'support', 'trace-imports.mjs');
const HEAVY = ['dockerode', 'node-vault', '@huggingface/hub', 'systeminformation'];

describe('lazy command loading', () => {
  const dir = mkdtempSync(join(tmpdir(), 'msting-trace-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function loaded(args: string[], env: NodeJS.ProcessEnv = {}): string[] {
    const file = join(dir, `${args.join('_')}.txt`);
    writeFileSync(file, '');
    execFileSync(process.execPath, ['--import', hook, bin, ...args], {
      env: { ...process.env, MSTING_TRACE_IMPORTS: file, MSTING_HOME: dir, ...env },
      encoding: 'utf8',
    });
    return readFileSync(file, 'utf8').split('\n').filter(Boolean);
  }
  const packagesIn = (urls: string[]): string[] => HEAVY.filter((name) => urls.some((u) => u.includes(`/node_modules/${name}/`)));

  for (const args of [['--help'], ['--version'], ['config', '--help']]) {
    it(`msting ${args.join(' ')} loads none of ${HEAVY.join(', ')}`, () => {
      const urls = loaded(args);
      expect(urls.some((u) => u.includes('/dist/cli.js'))).toBe(true);
      expect(packagesIn(urls)).toEqual([]);
    });
  }

  it('msting models list loads the hub library once it asks the hub, and nothing else heavy', () => {
    const modelsDir = join(dir, 'models');
    // A model not downloaded yet: list asks the hub for its size. Nothing listens on port 9, so the
    // size stays unknown and list still exits 0; the library was loaded for the question.
    const asking = loaded(['models', 'list'], { HF_ENDPOINT: 'http://127.0.0.1:9', STING_MODELS_DIR: modelsDir, HF_HUB_OFFLINE: '' });
    expect(packagesIn(asking)).toEqual(['@huggingface/hub']);
    // Offline it asks nothing, and loads nothing heavy.
    const offline = loaded(['models', 'list', '--json'], { STING_MODELS_DIR: modelsDir, HF_HUB_OFFLINE: '1' });
    expect(packagesIn(offline)).toEqual([]);
  });
});
