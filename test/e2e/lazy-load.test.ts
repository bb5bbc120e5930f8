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

  function loaded(args: string[]): string[] {
    const file = join(dir, `${args.join('_')}.txt`);
    writeFileSync(file, '');
    execFileSync(process.execPath, ['--import', hook, bin, ...args], {
      env: { ...process.env, MSTING_TRACE_IMPORTS: file, MSTING_HOME: dir },
      encoding: 'utf8',
    });
    return readFileSync(file, 'utf8').split('\n').filter(Boolean);
  }

  for (const args of [['--help'], ['--version'], ['config', '--help']]) {
    it(`msting ${args.join(' ')} loads none of ${HEAVY.join(', ')}`, () => {
      const urls = loaded(args);
      expect(urls.some((u) => u.includes('/dist/cli.js'))).toBe(true);
      for (const name of HEAVY) {
        expect(urls.filter((u) => u.includes(`/node_modules/${name}/`))).toEqual([]);
      }
    });
  }
});
