#!/usr/bin/env node
// Builds dist/: the CLI bundled with esbuild, split at every lazy `import()` so each command still
// loads only what it needs. One bundle loads far faster than hundreds of small ES modules, which is
// most of msting's start-up time. Type-checking is `npm run typecheck` (tsc).
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

const root = new URL('..', import.meta.url).pathname;
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

/** Identifies this build: changes whenever any source file does (used to invalidate caches). */
function sourceHash(dir) {
  const hash = createHash('sha256');
  const walk = (d) => {
    for (const name of readdirSync(d).sort()) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else hash.update(name).update(readFileSync(path));
    }
  };
  walk(dir);
  return hash.digest('hex').slice(0, 16);
}

rmSync(join(root, 'dist'), { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: { cli: 'src/cli.ts', 'config/json-schema': 'src/config/json-schema.ts' },
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  // Less source for V8 to scan and compile at every start; names are kept for readable stack traces.
  minifyWhitespace: true,
  minifySyntax: true,
  // zod, yaml and commander (used by nearly every command) go into the bundle, and so does undici
  // (the models commands: resolving its ~90 files at every start cost more than their code); the
  // other dependencies stay in node_modules and load only in the commands that use them.
  external: Object.keys(pkg.dependencies).filter((name) => !['zod', 'yaml', 'commander', 'undici'].includes(name)),
  define: { __MSTING_BUILD__: JSON.stringify(`${pkg.version}+${sourceHash(join(root, 'src'))}`) },
  // commander is CommonJS and requires Node built-ins: give every chunk a real `require`.
  banner: { js: "import { createRequire as __mstingCreateRequire } from 'node:module'; const require = __mstingCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
