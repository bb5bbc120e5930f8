#!/usr/bin/env node
// msting's lifecycle against Docker Compose on the same stack, in one run so the machine's load
// is shared: `msting start` vs `docker compose up -d --wait` from nothing (fresh volumes each
// time, targets ≤ 1.15x), and `msting status --json` vs `docker compose ps --format json` on
// the running stack (target ≤ 1.5x).
//
// Needs a Docker engine and the local test images (scripts/ensure-docker.sh,
// test/images/build.sh). Run after `npm run build`:
//   node bench/lifecycle.mjs [start-rounds] [status-runs]
// The stack is the default profile: real PostgreSQL and Redis (msting-test/debian), the Vault
// emulator (test/vault-emulator, built here) and stand-ins with real health checks for every
// other service (msting-test/busybox), chosen with images.overrides; the compose override file
// sets 1 s health-check intervals for both tools. Each round starts from the same state for both
// tools: fresh volumes and an initialized, stopped Vault (`start vault`, `vault init`, `stop`,
// not timed), so both start every container and msting also unseals Vault.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'bin', 'msting.js');
const startRounds = Number(process.argv[2] ?? 2);
const statusRuns = Number(process.argv[3] ?? 15);

const SERVICES = ['vault', 'db', 'redis', 'kratos-migrate', 'kratos', 'mailpit', 'app', 'frontend', 'messaging', 'chroma', 'knowledge'];
const PORT_KEYS = ['vault', 'db', 'kratos', 'kratos-admin', 'app', 'frontend', 'mailpit', 'mailpit-ui', 'messaging', 'knowledge'];

let images;
try {
  images = JSON.parse(readFileSync(join(root, '.cache', 'test-images.json'), 'utf8'));
} catch {
  console.error('no test images: run scripts/ensure-docker.sh and test/images/build.sh first');
  process.exit(1);
}

async function freePorts(count) {
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise((resolve) => {
      const s = createServer();
      s.listen({ host: '127.0.0.1', port: 0 }, () => resolve(s));
    })),
  );
  const ports = servers.map((s) => s.address().port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

const vaultImage = execFileSync(join(root, 'test', 'vault-emulator', 'build-image.sh'), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
  .trim().split('\n').at(-1);

const home = mkdtempSync(join(tmpdir(), 'msting-bench-life-'));
const project = `msting-bench-${process.pid}`;
const free = await freePorts(PORT_KEYS.length);
const ports = Object.fromEntries(PORT_KEYS.map((k, i) => [k, free[i]]));
const overrides = Object.fromEntries(SERVICES.map((s) => [s, s === 'db' || s === 'redis' ? images.debian : s === 'vault' ? vaultImage : images.busybox]));
mkdirSync(join(home, 'conf'), { recursive: true });
mkdirSync(join(home, 'compose'), { recursive: true });
mkdirSync(join(home, 'certs'), { recursive: true });
writeFileSync(join(home, 'conf', 'config.yml'), stringify({ project: { name: project }, images: { overrides }, ports, stop_timeout: 5 }));
const fast = { healthcheck: { interval: '1s', timeout: '5s', start_period: '30s', retries: 3 } };
const services = Object.fromEntries(SERVICES.filter((s) => s !== 'kratos-migrate').map((s) => [s, { ...fast }]));
writeFileSync(join(home, 'compose', 'docker-compose.override.yml'), stringify({ services }));

const env = { ...process.env, NO_COLOR: '1' };
const composeArgs = ['compose', '-p', project, '-f', join(home, 'compose', 'docker-compose.yml'), '-f', join(home, 'compose', 'docker-compose.override.yml'), '--profile', 'default'];

function timed(command, args, { check = true } = {}) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env, maxBuffer: 64 * 1024 * 1024 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (check && r.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${r.status}:\n${r.stderr}`);
  return { ms, status: r.status };
}
const mst = (...args) => [process.execPath, [bin, '--home', home, ...args]];
/** Fresh volumes and a new, initialized, stopped Vault: the state both tools start from. */
const clean = () => {
  timed(...mst('clean', '--volumes', '--yes'));
  // The shares and tokens belong to the Vault the volumes held: a new Vault gets new ones.
  rmSync(join(home, 'secrets'), { recursive: true, force: true });
  const first = timed(...mst('start', 'vault', '--timeout', '120'), { check: false });
  if (first.status !== 5) throw new Error(`start vault on a new Vault exited ${first.status}, expected 5 (vault init needed)`);
  timed(...mst('vault', 'init'));
  timed(...mst('stop'));
};
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (ms) => `${(ms / 1000).toFixed(2)} s`;

try {
  timed(...mst('config', 'render'));
  const startSamples = { msting: [], compose: [] };
  for (let i = 0; i < startRounds; i++) {
    // Alternate which goes first, so neither always meets a warmer machine.
    const order = i % 2 === 0 ? ['msting', 'compose'] : ['compose', 'msting'];
    for (const who of order) {
      clean();
      if (who === 'msting') startSamples.msting.push(timed(...mst('start', '--timeout', '300')).ms);
      else {
        timed(...mst('config', 'render'));
        startSamples.compose.push(timed('docker', [...composeArgs, 'up', '-d', '--wait']).ms);
      }
    }
  }
  // The stack is up (the last round's): status against ps.
  timed(...mst('start'));
  const statusSamples = { msting: [], compose: [] };
  timed(...mst('status', '--json'), { check: false });
  for (let i = 0; i < statusRuns; i++) {
    statusSamples.msting.push(timed(...mst('status', '--json')).ms);
    statusSamples.compose.push(timed('docker', [...composeArgs, 'ps', '--format', 'json']).ms);
  }

  const rows = [
    ['start (from nothing)', startSamples, 1.15, 'docker compose up -d --wait'],
    ['status --json', statusSamples, 1.5, 'docker compose ps --format json'],
  ];
  console.log(`lifecycle on the default profile (11 services), node ${process.version}, ${process.platform}/${process.arch}`);
  console.log(`start: median of ${startRounds} rounds each; status: median of ${statusRuns} runs each`);
  for (const [name, s, target, baseline] of rows) {
    const m = median(s.msting);
    const c = median(s.compose);
    const ratio = m / c;
    console.log(`  ${name.padEnd(22)} msting ${fmt(m).padStart(8)}   ${baseline} ${fmt(c).padStart(8)}   ratio ${ratio.toFixed(2)}x (target ≤ ${target}x) ${ratio <= target ? 'ok' : 'OVER'}`);
  }
} finally {
  spawnSync(process.execPath, [bin, '--home', home, 'clean', '--volumes', '--yes'], { stdio: 'ignore', env });
  rmSync(home, { recursive: true, force: true });
}
