import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { describeDocker, docker, freePorts, msting, ROOT, testImages, uniqueProject } from '../../support/docker.js';

/**
 * msting against a two-node swarm (scripts/swarm-testbed.sh): this engine as the manager, a second
 * engine in its own network namespace as a worker labelled sting.gpu=true, and a registry both
 * pull from. The default profile plus a stand-in model service is deployed from config.yml with
 * `orchestrator: swarm`; the model service lands on the labelled worker; `status` shows every
 * service healthy across both nodes, then, with the worker's engine stopped, the model service's
 * task lost and not rescheduled (no other node is labelled), then healthy again once the worker is
 * back. The bed's kernel has no IPVS, so config turns the routing mesh off (swarm.routing_mesh).
 * Health checks run every second through the operator's override file, which msting merges.
 */

const TESTBED = process.env.MSTING_SWARM_TESTBED ?? join(ROOT, 'scripts', 'swarm-testbed.sh');
const exec = promisify(execFile);

interface Bed {
  workerHost: string;
  registry: string;
  managerNode: string;
  workerNode: string;
}

interface SwarmStatus {
  orchestrator: string;
  healthy: boolean;
  services: { service: string; desired: number; running: number; node_ids: string[]; health: string; lost: { node_id: string }[]; detail: string | null; ok: boolean }[];
  nodes: { id: string; state: string; labels: Record<string, string> }[];
}

async function testbed(command: string): Promise<string> {
  const { stdout } = await exec('bash', [TESTBED, command], { maxBuffer: 1024 * 1024 });
  return stdout;
}

function parseBed(text: string): Bed {
  const vars = Object.fromEntries(
    text
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  return { workerHost: vars.TESTBED_WORKER_HOST!, registry: vars.TESTBED_REGISTRY!, managerNode: vars.TESTBED_MANAGER_NODE!, workerNode: vars.TESTBED_WORKER_NODE! };
}

/** Poll `msting status --json` until `done` holds for it, or fail at the deadline with the last answer. */
async function statusUntil(home: string, env: NodeJS.ProcessEnv, done: (s: SwarmStatus) => boolean, seconds: number): Promise<SwarmStatus> {
  const deadline = Date.now() + seconds * 1000;
  let last = '';
  for (;;) {
    const r = await msting(['--home', home, 'status', '--json'], { env });
    last = r.stdout || r.stderr;
    if (r.stdout) {
      const status = JSON.parse(r.stdout) as SwarmStatus;
      if (done(status)) return status;
    }
    if (Date.now() > deadline) throw new Error(`status did not get there in ${seconds}s; last answer:\n${last}`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

const service = (s: SwarmStatus, name: string) => s.services.find((x) => x.service === name)!;

describeDocker('orchestrator swarm on two engines', () => {
  let bed: Bed;
  let work: string;
  let home: string;
  let project: string;
  let env: NodeJS.ProcessEnv;
  const pushed: string[] = [];

  beforeAll(async () => {
    bed = parseBed(await testbed('up'));
    const images = testImages();
    const vault = images.vault;
    // The stand-in goes through the registry (its services may land on either node); PostgreSQL,
    // Redis and Vault keep their data on the manager, where msting pins them, and run from its images.
    const standIn = `${bed.registry}/msting-swarm-it/busybox:${images.busybox.split(':').at(-1)}`;
    await docker(['tag', images.busybox, standIn]);
    await docker(['push', standIn]);
    pushed.push(standIn);

    project = uniqueProject('msting-swarm-it');
    work = mkdtempSync(join(tmpdir(), 'msting-swarm-it-'));
    home = join(work, 'home');
    const models = join(work, 'models');
    mkdirSync(join(home, 'conf'), { recursive: true });
    mkdirSync(join(home, 'compose'), { recursive: true });
    mkdirSync(join(home, 'certs'), { recursive: true });
    mkdirSync(models, { recursive: true });
    // The TLS files `msting setup-ssl` writes; the stand-ins never read them.
    writeFileSync(join(home, 'certs', 'server.crt'), '-----BEGIN CERTIFICATE-----\nstand-in\n-----END CERTIFICATE-----\n');
    writeFileSync(join(home, 'certs', 'server.key'), '-----BEGIN PRIVATE KEY-----\nstand-in\n-----END PRIVATE KEY-----\n', { mode: 0o600 });
    const [vaultPort, frontendPort] = await freePorts(2);
    const standIns = ['kratos-migrate', 'kratos', 'mailpit', 'app', 'frontend', 'chroma', 'knowledge', 'messaging', 'phi3'];
    const config = {
      project: { name: project },
      orchestrator: 'swarm',
      swarm: { routing_mesh: false },
      profile: 'swarm-it',
      profiles: { 'swarm-it': { extends: 'default', services: ['phi3'] } },
      llm: { models: [{ name: 'phi3', repo: 'microsoft/Phi-3-mini-4k-instruct', enabled: true, memory_limit: '64m' }] },
      images: { overrides: { vault, db: images.debian, redis: images.debian, ...Object.fromEntries(standIns.map((s) => [s, standIn])) } },
      ports: { vault: vaultPort, frontend: frontendPort },
      stop_timeout: 5,
    };
    writeFileSync(join(home, 'conf', 'config.yml'), stringify(config));
    // Checked often so the test sees health soon, with the 10 s timeout of the Compose test
    // stacks: Swarm replaces a task whose check fails, and a busy machine slows checks down.
    const fast = { healthcheck: { interval: '2s', timeout: '10s', start_period: '60s', retries: 3 } };
    const checked = ['vault', 'db', 'redis', 'kratos', 'mailpit', 'app', 'frontend', 'messaging', 'chroma', 'knowledge', 'phi3'];
    writeFileSync(join(home, 'compose', 'swarm-stack.override.yml'), stringify({ services: Object.fromEntries(checked.map((s) => [s, fast])) }));
    env = { STING_MODELS_DIR: models };
  });

  afterAll(async () => {
    if (project) {
      await docker(['stack', 'rm', project]).catch(() => undefined);
      // Volumes outlive the stack (on purpose); the test's go once their containers have.
      for (const host of [undefined, bed?.workerHost]) {
        const h = host ? ['-H', host] : [];
        const deadline = Date.now() + 30_000;
        for (;;) {
          const left = (await docker([...h, 'ps', '-aq', '--filter', `label=com.docker.stack.namespace=${project}`]).catch(() => '')).split('\n').filter(Boolean);
          if (left.length === 0 || Date.now() > deadline) break;
          await new Promise((resolve) => setTimeout(resolve, 500));
        }
        const volumes = (await docker([...h, 'volume', 'ls', '-q', '--filter', `label=com.docker.stack.namespace=${project}`]).catch(() => '')).split('\n').filter(Boolean);
        if (volumes.length > 0) await docker([...h, 'volume', 'rm', '-f', ...volumes]).catch(() => undefined);
      }
    }
    for (const image of pushed) await docker(['rmi', image]).catch(() => undefined);
    // Swarm mode must not outlive the suite on a shared engine: `down` again if a first one
    // stopped half-way, and fail when the engine is still in the swarm.
    await testbed('down').catch(() => testbed('down'));
    expect(await docker(['info', '--format', '{{.Swarm.LocalNodeState}}'])).toBe('inactive');
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('deploys the profile across both nodes, the model service on the GPU-labelled worker, and reports it lost while the worker is down', async () => {
    const t0 = Date.now();
    // A new Vault: start deploys it alone and stops, naming `vault init`.
    const first = await msting(['--home', home, 'start', '--timeout', '120'], { env });
    expect(first.code, first.stderr).toBe(5);
    expect(first.stderr).toMatch(/vault init/);
    const init = await msting(['--home', home, 'vault', 'init'], { env });
    expect(init.code, init.stderr).toBe(0);
    const start = await msting(['--home', home, 'start', '--timeout', '180'], { env, timeoutMs: 240_000 });
    expect(start.code, start.stderr).toBe(0);
    const deployedS = (Date.now() - t0) / 1000;

    const up = await statusUntil(home, env, (s) => s.healthy, 60);
    expect(up.orchestrator).toBe('swarm');
    expect(up.services.map((s) => s.service)).toEqual(expect.arrayContaining(['vault', 'db', 'frontend', 'kratos-migrate', 'phi3']));
    expect(service(up, 'phi3').node_ids).toEqual([bed.workerNode]);
    expect(service(up, 'db').node_ids).toEqual([bed.managerNode]);
    // Unconstrained services spread: both nodes run part of the stack.
    expect(new Set(up.services.flatMap((s) => s.node_ids))).toEqual(new Set([bed.managerNode, bed.workerNode]));

    // No secret value in the stack file, and none in any service's environment.
    const stackFile = readFileSync(join(home, 'compose', 'swarm-stack.yml'), 'utf8');
    const secrets = await docker(['secret', 'ls', '--filter', `label=org.sting-ce.msting.stack=${project}`, '--format', '{{.Name}}']);
    expect(secrets).toMatch(/_db\.env_[0-9a-f]{12}$/m);
    const specs = await docker(['service', 'inspect', `${project}_db`, `${project}_app`, '--format', '{{json .Spec.TaskTemplate.ContainerSpec.Env}}']);
    expect(specs.split('\n').every((line) => line === 'null' || line === '[]')).toBe(true);
    expect(stackFile).not.toMatch(/PASSWORD|SECRET_KEY|_TOKEN=/);

    const nodes = await msting(['--home', home, 'swarm', 'nodes', '--json'], { env });
    expect(nodes.code, nodes.stderr).toBe(0);
    const listed = (JSON.parse(nodes.stdout) as { nodes: { id: string; role: string; labels: Record<string, string>; recommends: { source: string } }[] }).nodes;
    expect(listed.find((n) => n.id === bed.workerNode)).toMatchObject({ role: 'worker', labels: { 'sting.gpu': 'true' }, recommends: { source: 'advertised' } });
    expect(listed.find((n) => n.id === bed.managerNode)).toMatchObject({ role: 'manager', recommends: { source: 'probe' } });

    const tUpdate = Date.now();
    // update deploys the stack again in one go; nothing changed, so every service stays up.
    const update = await msting(['--home', home, 'update', '--no-backup', '--timeout', '120'], { env });
    expect(update.code, update.stderr).toBe(0);
    const updateS = (Date.now() - tUpdate) / 1000;
    // logs: the service's own output, through `docker service logs`, prefixed with its name.
    const logs = await msting(['--home', home, 'logs', 'frontend', '--tail', '20'], { env });
    expect(logs.code, logs.stderr).toBe(0);
    expect(logs.stdout).toMatch(/^frontend +\| stand-in .*listening on/m);

    // The worker's engine goes away: its model task is lost, and no other node may take it.
    // Meanwhile a backup: it reads the data services where msting pins them, on this manager
    // node, and needs nothing of the worker.
    const t1 = Date.now();
    await testbed('stop-worker');
    const [backup, down] = await Promise.all([
      msting(['--home', home, 'backup', '--output', join(work, 'backups')], { env }),
      statusUntil(home, env, (s) => s.nodes.find((n) => n.id === bed.workerNode)?.state === 'down' && !service(s, 'phi3').ok, 90),
    ]);
    expect(backup.code, backup.stderr).toBe(0);
    expect(backup.stderr + backup.stdout).toMatch(/sting_app/);
    const phi3 = service(down, 'phi3');
    expect(phi3.running).toBe(0);
    expect(down.healthy).toBe(false);
    expect(phi3.lost.length > 0 || /no suitable node|pending/.test(phi3.detail ?? '')).toBe(true);
    const downS = (Date.now() - t1) / 1000; // the backup included
    const text = await msting(['--home', home, 'status'], { env });
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/phi3 +0\/1/);

    // Back: the worker rejoins and the model service runs on it again.
    const t2 = Date.now();
    await testbed('start-worker');
    const again = await statusUntil(home, env, (s) => s.healthy, 120);
    expect(service(again, 'phi3').node_ids).toEqual([bed.workerNode]);
    const backS = (Date.now() - t2) / 1000;

    const stop = await msting(['--home', home, 'stop'], { env });
    expect(stop.code, stop.stderr).toBe(0);
    expect(await docker(['service', 'ls', '-q', '--filter', `label=com.docker.stack.namespace=${project}`])).toBe('');
    expect(await docker(['secret', 'ls', '-q', '--filter', `label=org.sting-ce.msting.stack=${project}`])).toBe('');
    console.log(`swarm: deployed in ${deployedS.toFixed(0)}s, update ${updateS.toFixed(0)}s, worker loss seen (and backup) in ${downS.toFixed(0)}s, back in ${backS.toFixed(0)}s`);
  });
});
