import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ExitCode, MstingError } from '../../../src/errors.js';
import type { ContainerExec, ExecOutput } from '../../../src/docker/container-exec.js';
import { GATEWAY_CONTAINER_CONFIG, upstreamHosts, withLoopbackServers } from '../../../src/gateway/write-guard.js';
import { GATEWAY_CONFIG_FILE, renderGuards, type GatewayGuardAccess } from '../../../src/lifecycle/render-step.js';
import type { RenderedFile } from '../../../src/render/render-stack.js';
import { writeRendered } from '../../../src/render/write.js';

/**
 * The render writer with the gateway guard, as every command that renders into the install uses
 * it, against a fake engine: a container list and a gateway whose `nginx -t` fails for configs
 * containing "broken" and for upstream servers whose service is not running.
 */
function fakeEngine(root: string, running: string[]) {
  const calls: string[][] = [];
  const tmpFiles = new Map<string, string>();
  const exec: ContainerExec = {
    async exec(_container, argv, opts = {}): Promise<ExecOutput> {
      calls.push(argv);
      const [cmd, ...args] = argv;
      if (cmd === 'sh') {
        tmpFiles.set(args[3]!, opts.env?.MSTING_GATEWAY_CONFIG ?? '');
        return { exitCode: 0, output: '' };
      }
      if (cmd === 'nginx' && args[0] === '-t') {
        const text = tmpFiles.get(args[2]!) ?? '';
        if (text.includes('broken')) return { exitCode: 1, output: `nginx: [emerg] unknown directive "broken" in ${args[2]}:3\nnginx: configuration file ${args[2]} test failed\n` };
        const unresolved = upstreamHosts(text).find((h) => !running.includes(h));
        if (unresolved) return { exitCode: 1, output: `nginx: [emerg] host not found in upstream "${unresolved}:8000" in ${args[2]}:9\n` };
        return { exitCode: 0, output: `nginx: configuration file ${args[2]} test is successful\n` };
      }
      if (cmd === 'rm') return { exitCode: 0, output: '' };
      if (cmd === 'cat' && args[0] === GATEWAY_CONTAINER_CONFIG) return { exitCode: 0, output: await readFile(join(root, GATEWAY_CONFIG_FILE), 'utf8') };
      if (cmd === 'nginx' && args[0] === '-s') return { exitCode: 0, output: '' };
      return { exitCode: 127, output: `${cmd}: not found` };
    },
  };
  const access: GatewayGuardAccess = {
    listContainers: async () => running.map((service, i) => ({ id: `c${i}`, service, state: 'running' })),
    exec,
  };
  return { access, calls };
}

const conf = (servers: string[], extra = '') =>
  `events {}\nhttp {\n  upstream model_phi3 {\n${servers.map((s) => `    server ${s}:8000 max_fails=3;\n`).join('')}  }\n  server { listen 8080; ${extra} }\n}\n`;
const OLD = conf(['phi3']);
const APP_ENV = 'env/app.env';

describe('the gateway write guard in writeRendered', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'msting-gateway-guard-'));
    await mkdir(join(root, 'compose/config/llm-gateway'), { recursive: true });
    await mkdir(join(root, 'env'), { recursive: true });
    await writeFile(join(root, GATEWAY_CONFIG_FILE), OLD);
    await writeFile(join(root, APP_ENV), 'A=1\n', { mode: 0o600 });
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  const files = (gateway: string): Map<string, RenderedFile> =>
    new Map([
      [APP_ENV, { content: 'A=2\n', mode: 0o600, secret: true }],
      [GATEWAY_CONFIG_FILE, { content: gateway, mode: 0o644, secret: false }],
    ]);
  const write = async (gateway: string, running: string[]) => {
    const engine = fakeEngine(root, running);
    const applied: string[] = [];
    const f = files(gateway);
    const guards = await renderGuards({ files: f, project: 'sting-ce', env: {}, access: engine.access, onGateway: (r) => applied.push(r.status) });
    return { engine, applied, run: () => writeRendered(f, root, { guards }) };
  };

  it('refuses a config that fails nginx -t in the running gateway: old file kept, nothing else written, exit 5 with nginx’s words', async () => {
    const { engine, run } = await write(conf(['phi3'], 'broken;'), ['llm-gateway', 'phi3']);
    const err = await run().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MstingError);
    expect((err as MstingError).code).toBe('GATEWAY_CONFIG');
    expect((err as MstingError).exitCode).toBe(ExitCode.external);
    expect((err as MstingError).details.join('\n')).toContain('unknown directive "broken"');
    expect(await readFile(join(root, GATEWAY_CONFIG_FILE), 'utf8')).toBe(OLD);
    expect(await readFile(join(root, APP_ENV), 'utf8')).toBe('A=1\n');
    expect(engine.calls.some((c) => c[0] === 'nginx' && c[1] === '-s')).toBe(false);
  });

  it('checks, puts in place and reloads a good config in the running gateway, then writes the rest', async () => {
    const next = conf(['phi3', 'phi3-2']);
    const { engine, applied, run } = await write(next, ['llm-gateway', 'phi3', 'phi3-2']);
    const report = await run();
    expect(report.written.sort()).toEqual([GATEWAY_CONFIG_FILE, APP_ENV].sort());
    expect(await readFile(join(root, GATEWAY_CONFIG_FILE), 'utf8')).toBe(next);
    expect(await readFile(join(root, APP_ENV), 'utf8')).toBe('A=2\n');
    expect(applied).toEqual(['reloaded']);
    expect(engine.calls.map((c) => c.slice(0, 2).join(' '))).toContain('nginx -s');
  });

  it('writes plainly, touching no container, when no gateway runs', async () => {
    const next = conf(['phi3'], 'broken;');
    const { engine, applied, run } = await write(next, ['phi3']);
    await run();
    expect(await readFile(join(root, GATEWAY_CONFIG_FILE), 'utf8')).toBe(next);
    expect(engine.calls).toEqual([]);
    expect(applied).toEqual([]);
  });

  it('does not ask the engine when the gateway config did not change', async () => {
    const { engine, run } = await write(OLD, ['llm-gateway', 'phi3']);
    const report = await run();
    expect(report.unchanged).toContain(GATEWAY_CONFIG_FILE);
    expect(engine.calls).toEqual([]);
  });

  it('a config naming a model service not running yet is checked with loopback servers and written without a reload', async () => {
    const next = conf(['phi3', 'phi3-2']);
    const { engine, applied, run } = await write(next, ['llm-gateway', 'phi3']);
    await run();
    expect(await readFile(join(root, GATEWAY_CONFIG_FILE), 'utf8')).toBe(next);
    expect(applied).toEqual(['checked']);
    expect(engine.calls.some((c) => c[0] === 'nginx' && c[1] === '-s')).toBe(false);
    expect(engine.calls.some((c) => c[0] === 'nginx' && c[1] === '-t')).toBe(true);
  });

  it('still refuses a broken config that also names a model service not running yet', async () => {
    const { run } = await write(conf(['phi3', 'phi3-2'], 'broken;'), ['llm-gateway', 'phi3']);
    await expect(run()).rejects.toMatchObject({ code: 'GATEWAY_CONFIG' });
    expect(await readFile(join(root, GATEWAY_CONFIG_FILE), 'utf8')).toBe(OLD);
  });
});

describe('upstream hosts', () => {
  it('finds model servers, not loopback ones, and points only the named ones at loopback', () => {
    const text = `${conf(['phi3', 'phi3-2'])}upstream x {\n    server 127.0.0.1:9999;\n}\n`;
    expect(upstreamHosts(text)).toEqual(['phi3', 'phi3-2']);
    const swapped = withLoopbackServers(text, ['phi3-2']);
    expect(swapped).toContain('server phi3:8000');
    expect(swapped).toContain('server 127.0.1.1:8000');
    expect(swapped).not.toContain('phi3-2');
  });
});
