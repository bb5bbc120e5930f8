#!/usr/bin/env node
// Runs every benchmark under bench/, one after another, after `npm run build`.
//   node bench/run-all.js            full runs: the sizes and rounds each benchmark documents, with
//                                     its targets (startup exits 1 when over one)
//   node bench/run-all.js --quick    small data and one round each, figures printed, targets not
//                                     checked: proves every benchmark still runs (CI runs this)
// Benchmarks that need a Docker engine and the local test images (lifecycle, backup, bundle) expect
// scripts/ensure-docker.sh and test/images/build.sh to have run.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const quick = process.argv.includes('--quick');

/** Each benchmark with what makes it quick: arguments and environment. */
const BENCHES = [
  { file: 'startup.mjs', quick: { args: ['3'] } },
  { file: 'download.mjs', quick: { env: { BENCH_BIG_MB: '96', BENCH_CAPPED_MB: '24', BENCH_ROUNDS: '1', BENCH_TLS_ROUNDS: '1' } } },
  { file: 'backup.mjs', quick: { env: { BENCH_SCALE: '0.02', BENCH_ROUNDS: '1' } } },
  { file: 'lifecycle.mjs', quick: { args: ['1', '1'] } },
  { file: 'bundle.mjs', quick: { env: { BENCH_IMAGES: 'small', BENCH_ROUNDS: '1' } } },
];

const failed = [];
for (const bench of BENCHES) {
  const extra = quick ? bench.quick : {};
  console.log(`\n== bench/${bench.file}${quick ? ' (quick: small data, one round, targets not checked)' : ''}`);
  const started = Date.now();
  const result = spawnSync(process.execPath, [join(here, bench.file), ...(extra.args ?? [])], {
    stdio: 'inherit',
    env: { ...process.env, ...(extra.env ?? {}), ...(quick ? { BENCH_QUICK: '1' } : {}) },
  });
  const seconds = ((Date.now() - started) / 1000).toFixed(0);
  if (result.status !== 0) failed.push(`${bench.file} (exit ${result.status ?? result.signal})`);
  console.log(`== bench/${bench.file}: ${result.status === 0 ? 'done' : 'FAILED'} in ${seconds} s`);
}
if (failed.length > 0) {
  console.error(`\nbenchmarks that failed: ${failed.join(', ')}`);
  process.exitCode = 1;
}
