#!/usr/bin/env node
// Builds dist/: the CLI bundled with esbuild, split at every lazy `import()` so each command still
// loads only what it needs. One bundle loads far faster than hundreds of small ES modules, which is
// most of msting's start-up time. Type-checking is `npm run typecheck` (tsc).
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = new URL('..', import.meta.url).pathname;
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

/** Identifies this build: changes whenever any source or catalogue file does (used to invalidate caches). */
function sourceHash(...dirs) {
  const hash = createHash('sha256');
  const walk = (d) => {
    for (const name of readdirSync(d).sort()) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else hash.update(name).update(readFileSync(path));
    }
  };
  dirs.forEach(walk);
  return hash.digest('hex').slice(0, 16);
}

// commander and yaml are CommonJS and require Node built-ins: give every chunk a real `require`.
const REQUIRE_BANNER = "import { createRequire as __mstingCreateRequire } from 'node:module'; const require = __mstingCreateRequire(import.meta.url);";

/**
 * The service catalogue (compose/*.yml) and the service config templates (templates/<service>/),
 * parsed and checked here, once, by the same loaders the tests use (bundled for this script). A
 * file that does not follow its format fails the build with its name and key path.
 */
async function loadData() {
  const loader = await build({
    absWorkingDir: root,
    stdin: {
      contents: "export { loadCatalogue } from './src/stack/catalogue/load.ts'; export { loadTemplates } from './src/render/templates/load.ts';",
      resolveDir: root,
      loader: 'ts',
    },
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    write: false,
    banner: { js: REQUIRE_BANNER },
    logLevel: 'warning',
  });
  const dir = mkdtempSync(join(tmpdir(), 'msting-build-'));
  try {
    const file = join(dir, 'load-data.mjs');
    writeFileSync(file, loader.outputFiles[0].text);
    const { loadCatalogue, loadTemplates } = await import(pathToFileURL(file).href);
    return { catalogue: loadCatalogue(join(root, 'compose')), templates: loadTemplates(join(root, 'templates')) };
  } catch (error) {
    if (error.name !== 'CatalogueError' && error.name !== 'TemplateError') throw error;
    console.error(`msting build: ${error.message}`);
    process.exit(1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Puts the checked data into the bundle in place of the modules that read the YAML
 * (src/stack/catalogue/data.ts, src/render/templates/data.ts).
 */
function yamlAsData({ catalogue, templates }) {
  const modules = new Map([
    [join(root, 'src/stack/catalogue/data.js'), `export const CATALOGUE = ${JSON.stringify(catalogue)};`],
    [join(root, 'src/render/templates/data.js'), `export const TEMPLATES = ${JSON.stringify(templates)};`],
  ]);
  return {
    name: 'yaml-as-data',
    setup(b) {
      b.onResolve({ filter: /\/data\.js$/ }, (args) => {
        const path = join(args.resolveDir, args.path);
        return modules.has(path) ? { path, namespace: 'msting-data' } : undefined;
      });
      b.onLoad({ filter: /.*/, namespace: 'msting-data' }, (args) => ({ contents: modules.get(args.path), loader: 'js' }));
    },
  };
}

/**
 * zod's `z` namespace re-exports every message locale (about 60 modules, two thirds of its code),
 * which no bundler can drop. msting speaks English and configures no other locale: the bundle gets
 * the English one only, so every start parses ~400 KB less.
 */
function zodEnglishOnly() {
  return {
    name: 'zod-english-only',
    setup(b) {
      b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
        args.importer.includes(join('node_modules', 'zod')) ? { path: 'zod-locales-en', namespace: 'msting-zod' } : undefined,
      );
      b.onLoad({ filter: /.*/, namespace: 'msting-zod' }, () => ({
        contents: "export { default as en } from 'zod/v4/locales/en.js';",
        resolveDir: root,
        loader: 'js',
      }));
    },
  };
}

/**
 * commander loads node:child_process (and with it net and dgram) at start-up, for executable
 * subcommands, which msting does not have: it is loaded on first use instead, a few milliseconds
 * off every command. The build fails if commander's source no longer has the line.
 */
function commanderLazyChildProcess() {
  const line = "const childProcess = require('node:child_process');";
  return {
    name: 'commander-lazy-child-process',
    setup(b) {
      b.onLoad({ filter: /[\\/]commander[\\/]lib[\\/]command\.js$/ }, (args) => {
        const source = readFileSync(args.path, 'utf8');
        if (!source.includes(line)) throw new Error(`commander-lazy-child-process: ${args.path} no longer has: ${line}`);
        const lazy = "const childProcess = { spawn: (...a) => require('node:child_process').spawn(...a) };";
        return { contents: source.replace(line, lazy), loader: 'js' };
      });
    },
  };
}

const data = await loadData();

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
  // zod, yaml and commander (used by nearly every command) go into the bundle, and so do undici
  // (the models commands) and execa (every command that runs docker or compose): resolving their
  // ~90 and ~100 files cost more than their code (execa alone took 150 ms to import on a two-CPU
  // host). The other dependencies stay in node_modules and load only in the commands that use them.
  external: Object.keys(pkg.dependencies).filter((name) => !['zod', 'yaml', 'commander', 'undici', 'execa'].includes(name)),
  define: { __MSTING_BUILD__: JSON.stringify(`${pkg.version}+${sourceHash(join(root, 'src'), join(root, 'compose'), join(root, 'templates'))}`) },
  plugins: [yamlAsData(data), zodEnglishOnly(), commanderLazyChildProcess()],
  banner: { js: REQUIRE_BANNER },
  logLevel: 'warning',
});
