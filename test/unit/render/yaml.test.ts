import { describe, expect, it } from 'vitest';
import { Document, parse } from 'yaml';
import { blockYaml, toYaml } from '../../../src/render/yaml.js';
import { gpuRecommendation, makeConfig, render } from './fixtures.js';

/** What the yaml library writes for the same data and options: the reference toYaml must match byte for byte. */
function library(value: unknown): string {
  return new Document(value, { sortMapEntries: true, compat: 'yaml-1.1' }).toString({ lineWidth: 0, minContentWidth: 0 });
}

/** A small seeded generator, so a failure names a case that reproduces. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Strings a YAML writer must quote or may leave plain: YAML 1.1 and 1.2 booleans, nulls, numbers,
// dates and times, indicators, comments, colons, quotes, document markers, and lines that break.
const TRICKY = [
  '', 'a', 'plain text', 'yes', 'No', 'ON', 'off', 'y', 'N', 'true', 'False', 'null', 'Null', '~', '0', '-1', '+1', '1.5', '1e3', '.5', '0x1F',
  '0o17', '017', '0b101', '1_000', '12:30:00', '190:20:30', '2001-12-14', '2001-12-14t21:59:43.10-05:00', '.inf', '-.Inf', '.NaN', '<<', '=', '-', '?', '- a',
  '? a', 'a: b', 'a:b', 'a:', ':a', 'http://x:8080/p?q=1#f', 'a #b', 'a#b', '#c', ' lead', 'trail ', '"dq"', "'sq'", "it's", 'say "hi"', `both ' and "`, `"it's" she said`, `'quoted' "twice"`, `- both ' and "`,
  '%YAML', '---', '--- a', '...', '...x', 'x---', '@at', '`tick', '!tag', '&anchor', '*alias', '|', '>', '[a]', '{a}', 'a,b', 'tab\there', 'line\nbreak',
  'two\n\nbreaks', 'end\n', 'ünïcode', 'emoji 🐝', 'bell\u0007', 'nul\u0000', 'CR\r', 'x'.repeat(1100), '$$HOME', '${VAR}', 'sha256:abc', 'CMD-SHELL',
  '127.0.0.1:8080:80', '/var/lib/x', 'key=value', 'a  b', '  ', '\t',
];

function generate(rand: () => number, depth: number, shared: object[]): unknown {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const r = rand();
  if (depth <= 0 || r < 0.45) {
    const k = rand();
    if (k < 0.7) return pick(TRICKY);
    if (k < 0.8) return pick([0, 1, -7, 42, 1.25, 1e21, 3e-7, 65535, -0.5]);
    if (k < 0.9) return pick([true, false]);
    return null;
  }
  if (r < 0.5 && shared.length > 0) return pick(shared);
  if (r < 0.72) {
    const arr = Array.from({ length: Math.floor(rand() * 4) }, () => generate(rand, depth - 1, shared));
    if (rand() < 0.05) shared.push(arr);
    return arr;
  }
  const obj: Record<string, unknown> = {};
  for (let i = Math.floor(rand() * 5); i > 0; i--) obj[pick(TRICKY)] = rand() < 0.05 ? undefined : generate(rand, depth - 1, shared);
  if (rand() < 0.05) shared.push(obj);
  return obj;
}

describe('toYaml', () => {
  it('writes every rendered YAML file exactly as the yaml library does', () => {
    const config = makeConfig({ hostname: 'sting.example.com' });
    const stacks = [render(makeConfig(), 'default'), render(makeConfig(), 'full'), render(config, 'full', { recommendation: gpuRecommendation(config) })];
    let files = 0;
    for (const stack of stacks) {
      for (const [path, file] of stack.files) {
        if (!/\.ya?ml$/.test(path)) continue;
        const data: unknown = parse(file.content);
        expect(blockYaml(data), `${path} is written directly, not by the library`).toBe(library(data));
        files++;
      }
    }
    expect(files).toBeGreaterThan(10);
  });

  it('matches the yaml library on 3000 generated documents of tricky strings, numbers and shapes', () => {
    const rand = prng(20261202);
    let direct = 0;
    for (let i = 0; i < 3000; i++) {
      const doc = generate(rand, 4, []);
      let expected: string;
      try {
        expected = library(doc);
      } catch {
        // The library cannot write some shared objects (an alias sorted before its anchor): neither can toYaml.
        expect(() => toYaml(doc)).toThrow();
        continue;
      }
      expect(toYaml(doc), `document ${i}: ${JSON.stringify(doc)}`).toBe(expected);
      if (blockYaml(doc) !== null) direct++;
    }
    // Most of them take the direct path; the rest (line breaks, control characters, shared objects) the library's.
    expect(direct).toBeGreaterThan(1000);
  });

  it('quotes what a YAML 1.1 reader would take for something else, so it reads back as written', () => {
    const doc = { flags: ['yes', 'no', 'on', 'off', '1.0', '0755', '12:30', '~', 'null'], port: '8080' };
    const text = toYaml(doc);
    expect(parse(text, { version: '1.1' })).toEqual(doc);
    expect(text).toContain('- "yes"');
    expect(text).toContain('port: "8080"');
  });
});
