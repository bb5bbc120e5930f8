import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MstingError } from '../../../src/errors.js';
import type { ContainerExec, ExecOutput } from '../../../src/docker/container-exec.js';
import { applyGatewayConfig } from '../../../src/gateway/swap.js';

/**
 * A container as the swap sees it: a file system of its own (the candidate goes to /tmp), the
 * host file visible at /etc/msting/nginx.conf (or frozen, as a single-file bind mount is), and an
 * `nginx -t` that fails for configs containing "broken".
 */
function fakeContainer(hostPath: string, options: { frozenMount?: string } = {}) {
  const files = new Map<string, string>();
  const calls: string[][] = [];
  const exec: ContainerExec = {
    async exec(_container, argv, opts = {}): Promise<ExecOutput> {
      calls.push(argv);
      const [cmd, ...args] = argv;
      if (cmd === 'sh') {
        files.set(args[3]!, opts.env?.MSTING_GATEWAY_CONFIG ?? '');
        return { exitCode: 0, output: '' };
      }
      if (cmd === 'nginx' && args[0] === '-t') {
        const text = files.get(args[2]!) ?? '';
        return text.includes('broken')
          ? { exitCode: 1, output: `nginx: [emerg] unknown directive "broken" in ${args[2]}:3\nnginx: configuration file ${args[2]} test failed\n` }
          : { exitCode: 0, output: `nginx: configuration file ${args[2]} test is successful\n` };
      }
      if (cmd === 'rm') {
        files.delete(args[1]!);
        return { exitCode: 0, output: '' };
      }
      if (cmd === 'cat') return { exitCode: 0, output: options.frozenMount ?? (await readFile(hostPath, 'utf8')) };
      if (cmd === 'nginx' && args[0] === '-s') return { exitCode: 0, output: '' };
      return { exitCode: 127, output: `${cmd}: not found` };
    },
  };
  return { exec, calls, files };
}

describe('applyGatewayConfig', () => {
  let dir: string;
  let hostPath: string;
  const OLD = 'events {}\nhttp { server { listen 8080; } }\n';
  const NEW = 'events {}\nhttp { server { listen 8080; location / { return 204; } } }\n';

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'msting-gateway-swap-'));
    hostPath = join(dir, 'nginx.conf');
    await writeFile(hostPath, OLD);
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const target = () => ({ hostPath, containerPath: '/etc/msting/nginx.conf', container: 'gw' });

  it('checks in the container, then puts the file in place and reloads', async () => {
    const fake = fakeContainer(hostPath);
    const steps: string[] = [];
    const result = await applyGatewayConfig(NEW, target(), fake.exec, { onStep: (s) => steps.push(s) });
    expect(result.status).toBe('reloaded');
    expect(await readFile(hostPath, 'utf8')).toBe(NEW);
    expect(steps).toEqual(['check', 'write', 'reload']);
    const test = fake.calls.find((c) => c[0] === 'nginx' && c[1] === '-t')!;
    expect(test[3]).toMatch(/^\/tmp\/msting-gateway-check-[0-9a-f]+\.conf$/);
    expect(fake.calls.at(-1)).toEqual(['nginx', '-s', 'reload', '-c', '/etc/msting/nginx.conf']);
    expect(fake.files.size).toBe(0);
  });

  it('never puts a config that fails nginx -t in place, and says what nginx said', async () => {
    const fake = fakeContainer(hostPath);
    const err = await applyGatewayConfig(`${NEW}broken;\n`, target(), fake.exec).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MstingError);
    expect((err as MstingError).code).toBe('GATEWAY_CONFIG');
    expect((err as MstingError).message).toContain('keeps its current config');
    expect((err as MstingError).details.join('\n')).toContain('unknown directive "broken"');
    expect(await readFile(hostPath, 'utf8')).toBe(OLD);
    expect(fake.calls.some((c) => c[1] === '-s')).toBe(false);
    expect(fake.files.size).toBe(0);
  });

  it('does not reload when the container cannot see the new file (single-file bind mount)', async () => {
    const fake = fakeContainer(hostPath, { frozenMount: OLD });
    await expect(applyGatewayConfig(NEW, target(), fake.exec)).rejects.toThrow(/does not see the new/);
    expect(fake.calls.some((c) => c[1] === '-s')).toBe(false);
  });

  it('only writes the file when no gateway is running', async () => {
    const fake = fakeContainer(hostPath);
    const result = await applyGatewayConfig(NEW, { ...target(), container: null }, fake.exec);
    expect(result.status).toBe('written');
    expect(await readFile(hostPath, 'utf8')).toBe(NEW);
    expect(fake.calls).toEqual([]);
  });

  it('touches nothing when the config is unchanged', async () => {
    const fake = fakeContainer(hostPath);
    expect((await applyGatewayConfig(OLD, target(), fake.exec)).status).toBe('unchanged');
    expect(fake.calls).toEqual([]);
  });

  it('stops before writing when interrupted', async () => {
    const fake = fakeContainer(hostPath);
    const controller = new AbortController();
    controller.abort();
    await expect(applyGatewayConfig(NEW, target(), fake.exec, { signal: controller.signal })).rejects.toMatchObject({ code: 'INTERRUPTED' });
    expect(await readFile(hostPath, 'utf8')).toBe(OLD);
  });
});
