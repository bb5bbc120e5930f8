import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { configSchema, type MstingConfig } from '../../../src/config/schema.js';
import { MstingError } from '../../../src/errors.js';
import { formatEnvFile, formatShellEnvFile, parseEnvFile, quoteEnvValue } from '../../../src/render/env-format.js';
import { escapeComposeInterpolation } from '../../../src/render/yaml.js';
import { makeConfig, render } from './fixtures.js';

/** Values that would add a key, end a scalar, or reach compose interpolation if pasted into YAML. */
const HOSTILE = [
  'x\nprivileged: true',
  'privileged: true',
  'a: b\nprivileged: true\n',
  '"\nprivileged: true\n#',
  "'\nprivileged: true\n'",
  '${HOME}\nprivileged: true',
  '{privileged: true}',
  'https://evil.example/#\nprivileged: true',
  'https://evil.example/${PRIVILEGED}',
  'evil@example.com\nprivileged: true',
  '512m\nprivileged: true',
];

/** Every string leaf of a config, as a key path. */
function stringPaths(node: unknown, path: (string | number)[] = []): (string | number)[][] {
  if (typeof node === 'string') return [path];
  if (Array.isArray(node)) return node.flatMap((v, i) => stringPaths(v, [...path, i]));
  if (node !== null && typeof node === 'object') return Object.entries(node).flatMap(([k, v]) => stringPaths(v, [...path, k]));
  return [];
}

function setAt(root: unknown, path: (string | number)[], value: string): unknown {
  const copy = structuredClone(root) as Record<string | number, unknown>;
  let node = copy;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  node[path.at(-1)!] = value;
  return copy;
}

function keysOf(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) node.forEach((v) => keysOf(v, out));
  else if (node !== null && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      out.push(k);
      keysOf(v, out);
    }
  }
  return out;
}

function stringsOf(node: unknown, out: string[] = []): string[] {
  if (typeof node === 'string') out.push(node);
  else if (Array.isArray(node)) node.forEach((v) => stringsOf(v, out));
  else if (node !== null && typeof node === 'object') Object.values(node).forEach((v) => stringsOf(v, out));
  return out;
}

// A config with every optional string field present, so each is walked too.
const BASE = makeConfig({
  network: { subnet: '172.30.0.0/16' },
  app: { cors_origins: ['https://admin.example.com'] },
  mail: { from_address: 'sting@example.com', smtp: { username: 'relay-user' } },
  images: { overrides: { app: 'registry.local/app:1' } },
  resources: { app: { memory: '1g' } },
  profiles: { custom: { extends: 'full', services: ['chatbot'] } },
});

describe('no config value can inject into the rendered compose file', () => {
  const paths = stringPaths(BASE);
  it('walks every string field of the config', () => {
    expect(paths.length).toBeGreaterThan(30);
  });

  const cases: { field: string; value: string; config: MstingConfig }[] = [];
  for (const path of paths) {
    for (const value of HOSTILE) {
      const parsed = configSchema.safeParse(setAt(BASE, path, value));
      if (parsed.success) cases.push({ field: path.join('.'), value, config: parsed.data });
    }
  }

  it('finds fields that accept hostile text (so the test exercises something)', () => {
    expect(new Set(cases.map((c) => c.field)).size).toBeGreaterThanOrEqual(5);
  });

  it.each(cases.map((c) => [c.field, JSON.stringify(c.value), c] as const))('%s = %s', (_field, _value, c) => {
    let files;
    try {
      files = render(c.config, c.config.profiles.custom ? 'custom' : 'full').files;
    } catch (err) {
      // Refusing to render (a config error naming the key, or a guard) is safe; anything else is a bug.
      if (err instanceof MstingError) expect(err.code).toBe('CONFIG_INVALID');
      else expect(String(err)).toMatch(/refusing to render/);
      return;
    }
    const composeText = files.get('compose/docker-compose.yml')!.content;
    const doc = parse(composeText) as unknown;
    expect(keysOf(doc).filter((k) => k === 'privileged')).toEqual([]);
    // Every `$` reaches compose doubled: no value is interpolated from the host environment.
    for (const s of stringsOf(doc)) for (const run of s.match(/\$+/g) ?? []) expect(run.length % 2, s).toBe(0);
    // Every other YAML file parses and gains no key either.
    for (const [path, file] of files) {
      if (/\.ya?ml$/.test(path)) expect(keysOf(parse(file.content)).filter((k) => k === 'privileged'), path).toEqual([]);
      if (path.startsWith('env/')) {
        for (const line of file.content.split('\n').filter((l) => l && !l.startsWith('#'))) {
          expect(line, path).toMatch(/^[A-Z_][A-Z0-9_]*=('[^'\n\\]*'|"([^"\\\n]|\\.)*")$/);
        }
      }
    }
  });
});

describe('env file quoting', () => {
  it('single-quotes plain values and escapes the rest on one line', () => {
    expect(quoteEnvValue('a$HOME ${X} "q"')).toBe(`'a$HOME \${X} "q"'`);
    expect(quoteEnvValue("it's\nNEW=1 \\ $X")).toBe('"it\'s\\nNEW=1 \\\\ \\$X"');
    expect(formatEnvFile('s', { B: '2', A: "x'\nEVIL=1" }).split('\n')).toEqual(['# s: rendered by msting from config.yml and Vault. Mode 0600; do not edit.', 'A="x\'\\nEVIL=1"', "B='2'", '']);
  });

  it('refuses a variable name that is not a name', () => {
    expect(() => formatEnvFile('s', { 'A=B\nC': 'x' })).toThrow(/invalid environment variable name/);
  });

  it('reads back what it wrote', () => {
    const entries = { A: "it's `id` $(id) $HOME \\ \"q\"", B: 'two\nlines\r', C: '', D: 'plain' };
    expect(parseEnvFile(formatEnvFile('s', entries))).toEqual(entries);
  });

  it('gives a shell that sources the Swarm form every value as written, running nothing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'msting-env-'));
    try {
      const proof = join(dir, 'ran');
      const entries = { A: `it's \`touch ${proof}\` $(touch ${proof}) $HOME`, B: "two\nlines 'q' \\n", C: '', D: "'" };
      const file = join(dir, 'msting.env');
      writeFileSync(file, formatShellEnvFile(formatEnvFile('s', entries)));
      const out = execFileSync('sh', ['-c', `set -a; . ${file}; set +a; for v in A B C D; do printenv "$v"; printf '\\0'; done`], { encoding: 'utf8', env: {} });
      expect(out.split('\0').slice(0, 4)).toEqual(Object.values(entries).map((v) => `${v}\n`));
      expect(() => execFileSync('test', ['-e', proof])).toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('compose interpolation', () => {
  it('doubles every dollar sign in strings, and only in strings', () => {
    expect(escapeComposeInterpolation({ a: ['$X', '${Y}', '$$'], n: 5 })).toEqual({ a: ['$$X', '$${Y}', '$$$$'], n: 5 });
  });
});
