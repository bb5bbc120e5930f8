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
// The only WebAssembly msting runs is the HTTP parser of its downloads. V8 would also recompile it
// with its optimizing tier in the background, and a process cannot exit before that finishes:
// ~50 ms of CPU and of delay on every command that fetches, for a parser that only reads headers.
const { setFlagsFromString } = await import('node:v8');
setFlagsFromString('--liftoff-only');
const { main } = await import('../dist/cli.js');
process.exitCode = await main(process.argv);
