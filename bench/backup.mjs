#!/usr/bin/env node
// Backup throughput and memory, on a real engine (plain node after `npm run build`):
//
//   msting backup --encrypt        vs   (pg_dump -Fc; tar c VOLUME) | openssl enc -aes-256-ctr
//
// over the same data: a volume of BENCH_VOLUME_MB of files (default 2048, half random, half
// compressible) and a database of about BENCH_DB_MB (default 300). BENCH_SCALE multiplies both
// (0.05 for a quick run). Each side runs BENCH_ROUNDS times (default 3), interleaved, each after a
// sync; the best run of each is compared. Both dump with pg_dump -Fc at its default level. Reports
// MB/s of each, the ratio (target >= 0.8) and the peak RSS of the msting child (target < 200 MB).
// Needs the test images (test/images/build.sh).
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, mkdtempSync, mkdirSync, writeFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const scale = Number(process.env.BENCH_SCALE ?? 1);
const volumeMb = Math.max(8, Math.round(Number(process.env.BENCH_VOLUME_MB ?? 2048) * scale));
const dbMb = Math.max(4, Math.round(Number(process.env.BENCH_DB_MB ?? 300) * scale));
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
const image = JSON.parse(readFileSync(join(root, '.cache/test-images.json'), 'utf8')).debian;
const project = `mstbench${process.pid}`;
const home = mkdtempSync(join(tmpdir(), 'msting-bench-backup-'));
const composeFile = join(home, 'compose', 'docker-compose.yml');

const sh = (cmd, opts = {}) => execFileSync('bash', ['-c', cmd], { encoding: 'utf8', maxBuffer: 1 << 26, ...opts }).trim();
const compose = (args) => sh(`docker compose -p ${project} -f ${composeFile} ${args}`);

function timed(fn) {
  const t = process.hrtime.bigint();
  const r = fn();
  return { result: r, seconds: Number(process.hrtime.bigint() - t) / 1e9 };
}

/** Run a command, sampling VmHWM of the process it starts (peak resident memory). */
function runMeasured(cmd, args, env) {
  return new Promise((resolvePromise, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let peakKb = 0;
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) peakKb = Math.max(peakKb, Number(m[1]));
      } catch {
        // exited
      }
    }, 20);
    child.on('error', reject);
    child.on('close', (code) => {
      clearInterval(timer);
      resolvePromise({ code, stdout, stderr, peakKb, seconds: Number(process.hrtime.bigint() - start) / 1e9 });
    });
  });
}

async function main() {
  mkdirSync(join(home, 'conf'), { recursive: true });
  mkdirSync(join(home, 'compose'), { recursive: true });
  writeFileSync(join(home, 'conf', 'config.yml'), `project:\n  name: ${project}\nimages:\n  overrides:\n    db: ${image}\n`);
  writeFileSync(
    composeFile,
    `services:
  db:
    image: ${image}
    environment: { POSTGRES_PASSWORD: bench-only }
    volumes: [postgres_data:/var/lib/postgresql/data]
    healthcheck: { test: ["CMD-SHELL", "pg_isready -U postgres -h 127.0.0.1"], interval: 1s, retries: 60 }
  app:
    image: ${image}
    command: ["sleep", "infinity"]
    volumes: [uploads:/app/uploads]
volumes: { postgres_data: {}, uploads: {} }
`,
  );
  const passFile = join(home, 'pass');
  writeFileSync(passFile, 'benchmark passphrase, not a secret\n', { mode: 0o600 });
  try {
    compose('up -d --wait');
    console.error(`bench: filling a ${volumeMb} MB volume and a ~${dbMb} MB database`);
    const files = Math.max(1, Math.floor(volumeMb / 64));
    compose(
      `exec -T app sh -c 'for i in $(seq 1 ${files}); do if [ $((i % 2)) -eq 0 ]; then head -c 67108864 /dev/urandom; else yes "uploaded document line $i" | head -c 67108864; fi > /app/uploads/f$i.bin; done'`,
    );
    compose(`exec -T -u postgres db psql -XAtq -U postgres -c 'CREATE DATABASE sting_app'`);
    const rows = dbMb * 4000;
    compose(
      `exec -T -u postgres db psql -XAtq -U postgres -d sting_app -c "CREATE TABLE t (id bigint primary key, a text, b text); INSERT INTO t SELECT g, md5(g::text), repeat(md5((g*7)::text), 3) FROM generate_series(1, ${rows}) g"`,
    );
    const dbSize = Number(compose(`exec -T -u postgres db psql -XAtq -U postgres -c "SELECT pg_database_size('sting_app')"`));
    const volPath = sh(`docker volume inspect -f '{{.Mountpoint}}' ${project}_uploads`);
    sh('sync');

    // Baseline: the same data through tar and openssl, timed end to end. Each tool runs ROUNDS times,
    // interleaved, after a sync (so neither pays for the other's dirty pages); the best run of each counts.
    const baseOut = join(home, 'baseline.enc');
    const dbId = compose('ps -q db');
    const baseRuns = [];
    const mstingRuns = [];
    let baseBytes = 0;
    let plainBytes = 0;
    for (let round = 0; round < ROUNDS; round++) {
      sh('sync');
      const base = timed(() =>
        sh(`set -o pipefail; (docker exec -u postgres ${dbId} pg_dump -Fc -U postgres sting_app; tar c -C ${volPath} .) | openssl enc -aes-256-ctr -pbkdf2 -pass file:${passFile} -out ${baseOut}`),
      );
      baseBytes = statSync(baseOut).size;
      rmSync(baseOut);
      baseRuns.push(base.seconds);

      sh('sync');
      const out = join(home, 'out');
      const run = await runMeasured(process.execPath, [join(root, 'bin/msting.js'), '--home', home, '--json', 'backup', '--encrypt', '--passphrase-file', passFile, '--output', out], { CI: '1' });
      if (run.code !== 0) throw new Error(`msting backup failed: ${run.stderr}`);
      plainBytes = JSON.parse(run.stdout.trim().split('\n').at(-1)).plainBytes;
      rmSync(out, { recursive: true, force: true });
      mstingRuns.push({ seconds: run.seconds, peakKb: run.peakKb });
    }
    const mstingSeconds = Math.min(...mstingRuns.map((r) => r.seconds));
    const baseSeconds = Math.min(...baseRuns);
    const mstingMBs = plainBytes / 1e6 / mstingSeconds;
    const baseMBs = baseBytes / 1e6 / baseSeconds;
    const report = {
      data: { volumeMB: volumeMb, databaseMB: Math.round(dbSize / 1e6), archivePlainMB: Math.round(plainBytes / 1e6) },
      msting: {
        seconds: Number(mstingSeconds.toFixed(2)),
        runs: mstingRuns.map((r) => Number(r.seconds.toFixed(2))),
        MBps: Number(mstingMBs.toFixed(1)),
        peakRssMB: Math.round(Math.max(...mstingRuns.map((r) => r.peakKb)) / 1024),
      },
      baseline: {
        command: '(pg_dump -Fc; tar c) | openssl enc -aes-256-ctr',
        seconds: Number(baseSeconds.toFixed(2)),
        runs: baseRuns.map((s) => Number(s.toFixed(2))),
        MBps: Number(baseMBs.toFixed(1)),
      },
      ratio: Number((mstingMBs / baseMBs).toFixed(2)),
      targets: { ratioAtLeast: 0.8, peakRssBelowMB: 200 },
    };
    console.log(JSON.stringify(report, null, 2));
  } finally {
    try {
      compose('down -v');
    } catch {
      // nothing to remove
    }
    rmSync(home, { recursive: true, force: true });
  }
}

await main();
