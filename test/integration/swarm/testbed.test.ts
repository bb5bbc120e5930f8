import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeDocker, docker, ROOT, testImages } from '../../support/docker.js';

/**
 * The two-engine swarm of scripts/swarm-testbed.sh (see README.md here): an image pushed once to its
 * registry runs on the labelled worker under the same reference, a task there reaches a service on
 * the manager over an overlay network, and a worker engine that stops shows as a down node whose
 * task no longer runs, until it starts again and rejoins.
 */

const SCRIPT = join(ROOT, 'scripts', 'swarm-testbed.sh');
const exec = promisify(execFile);
const PREFIX = 'msting-tb-test';
const WEB = `${PREFIX}-web`;
const GPU = `${PREFIX}-gpu`;
const NET = `${PREFIX}-net`;

interface Bed {
  workerHost: string;
  registry: string;
  managerNode: string;
  workerNode: string;
}

async function testbed(command: string): Promise<string> {
  const { stdout } = await exec('bash', [SCRIPT, command], { maxBuffer: 1024 * 1024 });
  return stdout;
}

function parseBed(stdout: string): Bed {
  const vars = new Map(stdout.trim().split('\n').map((line) => line.split('=', 2) as [string, string]));
  const get = (name: string) => {
    const value = vars.get(name);
    if (!value) throw new Error(`swarm-testbed.sh up printed no ${name}:\n${stdout}`);
    return value;
  };
  return { workerHost: get('TESTBED_WORKER_HOST'), registry: get('TESTBED_REGISTRY'), managerNode: get('TESTBED_MANAGER_NODE'), workerNode: get('TESTBED_WORKER_NODE') };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** The service's tasks that should be running: node and current state. */
async function liveTasks(service: string): Promise<{ node: string; state: string }[]> {
  const out = await docker(['service', 'ps', service, '--filter', 'desired-state=running', '--no-trunc', '--format', '{{.ID}}']);
  const ids = out.split('\n').filter(Boolean);
  if (ids.length === 0) return [];
  const tasks = await docker(['inspect', '--format', '{{.NodeID}} {{.Status.State}}', ...ids]);
  return tasks.split('\n').map((line) => {
    const [node = '', state = ''] = line.split(' ');
    return { node, state };
  });
}

const runningOn = (node: string) => async (service: string) => ((await liveTasks(service)).some((t) => t.node === node && t.state === 'running') ? true : undefined);

let bed: Bed;
let image: string;
const worker = (args: string[]) => docker(['-H', bed.workerHost, ...args]);

describeDocker('the two-engine swarm test bed (scripts/swarm-testbed.sh)', () => {
  beforeAll(async () => {
    bed = parseBed(await testbed('up'));
    // Pushed from the main engine only; the worker pulls it by the same name.
    image = `${bed.registry}/${PREFIX}/busybox:1`;
    await docker(['tag', testImages().busybox, image]);
    await docker(['push', '--quiet', image]);
    await docker(['rmi', image]);
  }, 120_000);

  afterAll(async () => {
    await docker(['service', 'rm', WEB, GPU]).catch(() => undefined);
    await testbed('down');
    // The main engine is as it was: no swarm, no docker_gwbridge.
    expect(await docker(['info', '--format', '{{.Swarm.LocalNodeState}}'])).toBe('inactive');
    await expect(docker(['network', 'inspect', 'docker_gwbridge'])).rejects.toThrow();
  }, 120_000);

  it('up is idempotent and names the same two nodes, the worker labelled sting.gpu=true', async () => {
    expect(parseBed(await testbed('up'))).toEqual(bed);
    expect(await docker(['node', 'inspect', bed.workerNode, '--format', '{{index .Spec.Labels "sting.gpu"}} {{.Spec.Role}} {{.Status.State}}'])).toBe('true worker ready');
    expect(await docker(['node', 'inspect', bed.managerNode, '--format', '{{.Spec.Role}} {{.Status.State}}'])).toBe('manager ready');
  }, 60_000);

  it('a service constrained to sting.gpu nodes runs on the worker, pulled from the registry; over an overlay network it reaches a service on the manager', async () => {
    await docker(['network', 'create', '--driver', 'overlay', NET]);
    // No IPVS on this kernel class: services find each other by DNS round robin, not a virtual IP.
    await docker(['service', 'create', '--detach', '--quiet', '--name', WEB, '--network', NET, '--endpoint-mode', 'dnsrr',
      '--constraint', 'node.role==manager', '--stop-grace-period', '1s', '--entrypoint', '/bin/busybox', image, 'httpd', '-f', '-p', '8080', '-h', '/www']);
    await docker(['service', 'create', '--detach', '--quiet', '--name', GPU, '--network', NET, '--endpoint-mode', 'dnsrr',
      '--constraint', 'node.labels.sting.gpu==true', '--stop-grace-period', '1s', '--entrypoint', '/bin/busybox', image, 'sleep', '3600']);
    await until(`${GPU} running on the worker`, () => runningOn(bed.workerNode)(GPU));
    await until(`${WEB} running on the manager`, () => runningOn(bed.managerNode)(WEB));

    const container = await until('the task container on the worker engine', async () => (await worker(['ps', '-q', '--filter', `label=com.docker.swarm.service.name=${GPU}`])) || undefined);
    expect(await worker(['inspect', container, '--format', '{{.Config.Image}}'])).toMatch(new RegExp(`^${image.replace(/[.]/g, '\\.')}@sha256:`));
    // The manager's own engine runs nothing of it.
    expect(await docker(['ps', '-q', '--filter', `label=com.docker.swarm.service.name=${GPU}`])).toBe('');

    // VXLAN between the two engines: name resolution and HTTP from the worker's task to the manager's.
    const body = await until(`${WEB} answering from the worker's task`, async () =>
      (await worker(['exec', container, 'timeout', '5', '/bin/busybox', 'wget', '-q', '-O', '-', `http://${WEB}:8080/index.html`])) || undefined);
    expect(body).toBe('{"status":"ok"}');
  }, 90_000);
  // Losing the worker and getting it back (stop-worker, start-worker) is shown by swarm.test.ts on msting's own stack.
});
