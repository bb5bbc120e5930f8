#!/usr/bin/env node
// Offline bundle throughput and memory, on a real engine (plain node after `npm run build`):
//
//   msting bundle create      vs   docker save -o FILE IMAGE...
//
// of the same images: those of the default profile, with the local test images standing in for
// the stack's (test/images/build.sh: PostgreSQL/Redis on Debian, the Python image for STING-CE's
// Python services app, knowledge and messaging, busybox for the rest; about 640 MB of save stream,
// where STING-CE's own default profile saves several GB). Each side
// runs BENCH_ROUNDS times (default 3), interleaved, each after a sync; the best run of each is
// compared. msting's run is the whole command: config, engine calls, `docker save` writing into
// the bundle while msting reads the stream back and hashes it (SHA-256), the package, the
// manifest, fsync and rename. msting's npm package is
// built on the first run of a build and cached (~/.cache/msting): the first run is reported apart
// ("cold"), the rounds after it reuse the package. Reports MB/s of each, the ratio (target >= 0.8),
// the images-only ratio (from the NDJSON stage events), and the peak RSS of the msting child
// (target < 200 MB). BENCH_IMAGES=small (the quick run) bundles the busybox image only.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
const quick = process.env.BENCH_QUICK === '1';
const small = process.env.BENCH_IMAGES === 'small';
const built = JSON.parse(readFileSync(join(root, '.cache/test-images.json'), 'utf8'));
const work = mkdtempSync(join(tmpdir(), 'msting-bench-bundle-'));
const home = join(work, 'home');

const sh = (cmd) => execFileSync('bash', ['-c', cmd], { encoding: 'utf8', maxBuffer: 1 << 26 }).trim();

/** Run a command, sampling VmHWM (peak resident memory) and timestamping each NDJSON line on stdout. */
function runMeasured(cmd, args, env) {
  return new Promise((resolvePromise, reject) => {
    const start = process.hrtime.bigint();
    const seconds = () => Number(process.hrtime.bigint() - start) / 1e9;
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let peakKb = 0;
    let buffer = '';
    let stderr = '';
    const events = [];
    child.stdout.on('data', (d) => {
      buffer += d;
      let nl;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        try {
          events.push({ at: seconds(), ...JSON.parse(line) });
        } catch {
          // not an event
        }
      }
    });
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
      resolvePromise({ code, stderr, events, peakKb, seconds: seconds() });
    });
  });
}

async function bundleRun(output) {
  sh('sync');
  const run = await runMeasured(process.execPath, [join(root, 'bin/msting.js'), '--home', home, '--json', '--yes', 'bundle', 'create', '--output', output], {
    CI: '1',
    XDG_CACHE_HOME: join(work, 'cache'),
  });
  if (run.code !== 0) throw new Error(`msting bundle create failed: ${run.stderr}`);
  const stage = (name) => run.events.find((e) => e.event === 'stage' && e.stage === name);
  const images = stage('images');
  const after = stage('package');
  const imageBytes = after.bytes - images.bytes;
  rmSync(output);
  return { seconds: run.seconds, imageSeconds: after.at - images.at, imageBytes, peakKb: run.peakKb };
}

async function main() {
  const images = small ? [built.busybox] : [built.busybox, built.debian, built.stingPython];
  const db = small ? built.busybox : built.debian;
  const python = small ? built.busybox : built.stingPython;
  mkdirSync(join(home, 'conf'), { recursive: true });
  const services = ['vault', 'kratos', 'kratos-migrate', 'mailpit', 'frontend', 'chroma'];
  const pythonServices = ['app', 'knowledge', 'messaging'];
  writeFileSync(
    join(home, 'conf', 'config.yml'),
    ['project:', '  name: mstbenchbundle', 'images:', '  overrides:', `    db: ${db}`, `    redis: ${db}`, ...services.map((s) => `    ${s}: ${built.busybox}`), ...pythonServices.map((s) => `    ${s}: ${python}`), ''].join('\n'),
  );
  const output = join(work, 'bundle.tar');
  const reference = join(work, 'reference.tar');
  try {
    console.error(`bench: bundle create vs docker save of ${images.join(', ')}; ${ROUNDS} round(s)`);
    const cold = await bundleRun(output);
    const saveRuns = [];
    const bundleRuns = [];
    let saveBytes = 0;
    for (let round = 0; round < ROUNDS; round++) {
      sh('sync');
      const t = process.hrtime.bigint();
      execFileSync('docker', ['save', '-o', reference, ...images]);
      saveRuns.push(Number(process.hrtime.bigint() - t) / 1e9);
      saveBytes = statSync(reference).size;
      rmSync(reference);
      bundleRuns.push(await bundleRun(output));
    }
    const saveSeconds = Math.min(...saveRuns);
    const best = bundleRuns.reduce((a, b) => (b.seconds < a.seconds ? b : a));
    const bestImages = Math.min(...bundleRuns.map((r) => r.imageSeconds));
    const mb = (bytes, s) => Number((bytes / 1e6 / s).toFixed(1));
    const saveMBs = saveBytes / 1e6 / saveSeconds;
    const report = {
      images,
      saveStreamMB: Math.round(saveBytes / 1e6),
      dockerSave: { seconds: Number(saveSeconds.toFixed(2)), runs: saveRuns.map((s) => Number(s.toFixed(2))), MBps: mb(saveBytes, saveSeconds) },
      bundleCreate: {
        seconds: Number(best.seconds.toFixed(2)),
        runs: bundleRuns.map((r) => Number(r.seconds.toFixed(2))),
        MBps: mb(best.imageBytes, best.seconds),
        imagesOnlyMBps: mb(best.imageBytes, bestImages),
        coldSeconds: Number(cold.seconds.toFixed(2)),
        peakRssMB: Math.round(Math.max(cold.peakKb, ...bundleRuns.map((r) => r.peakKb)) / 1024),
      },
      ratio: Number((best.imageBytes / 1e6 / best.seconds / saveMBs).toFixed(2)),
      imagesOnlyRatio: Number((best.imageBytes / 1e6 / bestImages / saveMBs).toFixed(2)),
      coldRatio: Number((cold.imageBytes / 1e6 / cold.seconds / saveMBs).toFixed(2)),
      targets: { ratioAtLeast: 0.8, peakRssBelowMB: 200 },
    };
    console.log(JSON.stringify(report, null, 2));
    if (!quick && (report.ratio < 0.8 || report.bundleCreate.peakRssMB >= 200)) {
      console.error('bench/bundle: a target was missed');
      process.exitCode = 1;
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
