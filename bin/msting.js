#!/usr/bin/env node
// Kept tiny and dependency-free: it must run, and fail clearly, on any Node version.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 12)) {
  process.stderr.write(`msting needs Node.js 20.12 or newer (this is ${process.versions.node}).\n` +
    'hint: install a current Node.js LTS from your package manager or nodejs.org\n');
  process.exit(1);
}
// Node 22.1+ keeps compiled code between runs; a no-op where it is missing.
const { enableCompileCache } = await import('node:module');
enableCompileCache?.();
const { main } = await import('../dist/cli.js');
process.exitCode = await main(process.argv);
