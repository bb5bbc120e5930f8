#!/usr/bin/env node
// Startup cost of the CLI against bare node, measured in one run so the machine's load is shared.
// Run after `npm run build`: node bench/startup.mjs [runs]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'bin', 'msting.js');
const runs = Number(process.argv[2] ?? 15);
const home = mkdtempSync(join(tmpdir(), 'msting-bench-'));

const cases = [
  { name: 'node -e 0', args: ['-e', '0'] },
  { name: 'msting --version', args: [bin, '--version'], target: 1.5 },
  { name: 'msting config render --profile full', args: [bin, '--home', home, 'config', 'render', '--profile', 'full'], target: 3 },
];

function once(args) {
  const start = process.hrtime.bigint();
  const result = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.status !== 0) throw new Error(`${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  return ms;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

try {
  const samples = new Map(cases.map((c) => [c.name, []]));
  for (const c of cases) once(c.args); // warm the file cache
  // Interleaved, so a burst of load elsewhere hits every case alike.
  for (let i = 0; i < runs; i++) for (const c of cases) samples.get(c.name).push(once(c.args));
  const base = median(samples.get(cases[0].name));
  console.log(`startup, median of ${runs} runs (node ${process.version}, ${process.platform}/${process.arch})`);
  let failed = false;
  for (const c of cases) {
    const m = median(samples.get(c.name));
    const ratio = m / base;
    const verdict = c.target === undefined ? '' : ratio <= c.target ? `  ok (target <= ${c.target}x)` : `  OVER target ${c.target}x`;
    if (c.target !== undefined && ratio > c.target) failed = true;
    console.log(`${c.name.padEnd(40)} ${m.toFixed(1).padStart(8)} ms  ${ratio.toFixed(2)}x${verdict}`);
  }
  // A quick run (bench/run-all.js --quick) only proves the benchmark runs: targets need full runs.
  process.exitCode = failed && !process.env.BENCH_QUICK ? 1 : 0;
} finally {
  rmSync(home, { recursive: true, force: true });
}
