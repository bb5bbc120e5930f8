import { readFileSync, readdirSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * package.json's runtime dependencies are what every install downloads: each must be used by
 * src/, and src/ must use nothing that is not one of them.
 */
const root = resolve(import.meta.dirname, '../../..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [join(dir, e.name)] : [],
  );
}

/** Packages a module loads at run time: static imports and re-exports (not `import type`), side-effect imports, `import()`. */
function importedPackages(source: string): string[] {
  const specifiers = [
    ...[...source.matchAll(/^\s*(?:import|export)\s+(?!type\s)[^'";]*?\sfrom\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]!),
    ...[...source.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]!),
    ...[...source.matchAll(/(?<!typeof\s+)\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1]!),
  ];
  return specifiers
    .filter((s) => !s.startsWith('.') && !s.startsWith('node:') && !builtinModules.includes(s.split('/')[0]!))
    .map((s) => (s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0]!));
}

describe('runtime dependencies', () => {
  const used = new Set(sourceFiles(join(root, 'src')).flatMap((f) => importedPackages(readFileSync(f, 'utf8'))));
  const declared = Object.keys(pkg.dependencies ?? {});

  it('reads imports as the build does', () => {
    expect(importedPackages("import type { A } from 'gone';\nimport { b } from '@scope/pkg/sub';\nconst h = await import('lazy');\ntype L = typeof import('types-only');\nimport 'side';\nexport { c } from 'again';")).toEqual([
      '@scope/pkg',
      'again',
      'side',
      'lazy',
    ]);
  });

  it('lists no dependency that src/ never imports', () => {
    expect(declared.filter((name) => !used.has(name)), 'in package.json "dependencies" but imported nowhere in src/: use it or remove it').toEqual([]);
  });

  it('imports no package that is not a runtime dependency', () => {
    expect([...used].filter((name) => !declared.includes(name)), 'imported by src/ but not in package.json "dependencies"').toEqual([]);
  });
});
