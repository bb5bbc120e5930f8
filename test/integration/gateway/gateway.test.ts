import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../../src/config/schema.js';
import { MstingError } from '../../../src/errors.js';
import { createContainerExec } from '../../../src/docker/container-exec.js';
import { planGateway } from '../../../src/gateway/plan.js';
import { renderGatewayConfig } from '../../../src/gateway/render.js';
import { applyGatewayConfig } from '../../../src/gateway/swap.js';
import type { Recommendation } from '../../../src/hardware/types.js';

/**
 * The rendered gateway on a real nginx (Debian's nginx-light in msting-test/debian) in front of
 * stand-in model servers (busybox, test/fixtures/gateway/model-server.sh) that answer with their
 * own name, on a network of their own. Everything the test creates carries LABEL and is removed
 * afterwards.
 */

const ROOT = resolve(import.meta.dirname, '../../..');
const FIXTURES = join(ROOT, 'test/fixtures/gateway');
const LABEL = 'msting.test=gateway';
const RUN = `msting-gw-${randomBytes(3).toString('hex')}`;
const CONTAINER_CONF = '/etc/msting/nginx.conf';

const MODELS = [
  { name: 'phi3', repo: 'microsoft/Phi-3-medium-128k-instruct', replicas: 2 },
  { name: 'zephyr', repo: 'HuggingFaceH4/zephyr-7b-beta' },
  { name: 'llama3', repo: 'meta-llama/Llama-3.1-8B' },
  { name: 'mistral', repo: 'mistralai/Mistral-7B-Instruct-v0.3', enabled: false },
];

function renderFor(gateway: Record<string, unknown>): string {
  const config = configSchema.parse({ llm: { models: MODELS, gateway } });
  const recommendation: Recommendation = {
    device: 'cpu',
    precision: 'int8',
    gpuReservation: null,
    reasons: [],
    advice: [],
    models: config.llm.models.map((m) => ({ name: m.name, fits: m.name !== 'llama3', requiredBytes: 0, memoryLimit: '8g', quantization: 'int8', reason: '' })),
  };
  return renderGatewayConfig(planGateway(config.llm, recommendation), { stateDir: '/tmp' });
}

const OPEN = { rate: '1000r/s', burst: 1000, cache_embeddings_ttl: '10m' };

async function images(): Promise<{ busybox: string; debian: string }> {
  const file = join(ROOT, '.cache/test-images.json');
  if (!existsSync(file)) await execa('bash', [join(ROOT, 'test/images/build.sh')], { stdio: 'inherit' });
  return JSON.parse(await readFile(file, 'utf8')) as { busybox: string; debian: string };
}

const docker = (...args: string[]) => execa('docker', args);

let base = '';
let confDir = '';
let gateway = '';

interface Answer {
  status: number;
  headers: Headers;
  json: Record<string, unknown>;
}

async function ask(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(`${base}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text.startsWith('{') ? (JSON.parse(text) as Record<string, unknown>) : { text } };
}

async function waitHealthy(): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      if ((await fetch(`${base}/health`)).status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      const logs = await docker('logs', gateway).catch((e: { stderr?: string }) => ({ stderr: e.stderr ?? '' }));
      throw new Error(`the gateway did not answer /health:\n${logs.stderr}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  const { busybox, debian } = await images();
  await docker('network', 'create', '--label', LABEL, RUN);
  for (const [service, model] of [
    ['phi3', 'phi3'],
    ['phi3-2', 'phi3'],
    ['zephyr', 'zephyr'],
  ] as const) {
    await docker('run', '-d', '--label', LABEL, '--name', `${RUN}-${service}`, '--hostname', service, '--network', RUN, '--network-alias', service,
      '-e', `MODEL_NAME=${model}`, '-v', `${FIXTURES}:/fixture:ro`, busybox, 'sh', '/fixture/model-server.sh');
  }
  confDir = await mkdtemp(join(tmpdir(), 'msting-gateway-it-'));
  await writeFile(join(confDir, 'nginx.conf'), renderFor(OPEN));
  gateway = `${RUN}-llm-gateway`;
  // As the compose file mounts it: the directory holding nginx.conf, read-only.
  await docker('run', '-d', '--label', LABEL, '--name', gateway, '--network', RUN, '-p', '127.0.0.1::8080',
    '-v', `${confDir}:/etc/msting:ro`, debian, 'nginx', '-c', CONTAINER_CONF, '-g', 'daemon off;');
  const { stdout } = await docker('port', gateway, '8080/tcp');
  base = `http://127.0.0.1:${stdout.split('\n')[0]!.split(':').pop()}`;
  await waitHealthy();
});

afterAll(async () => {
  const { stdout } = await docker('ps', '-aq', '--filter', `label=${LABEL}`, '--filter', `name=${RUN}`).catch(() => ({ stdout: '' }));
  const ids = stdout.split('\n').filter(Boolean);
  if (ids.length > 0) await docker('rm', '-f', ...ids).catch(() => undefined);
  await docker('network', 'rm', RUN).catch(() => undefined);
  if (confDir !== '') await rm(confDir, { recursive: true, force: true });
});

describe('the LLM gateway on a real nginx', () => {
  it("answers STING-CE's chatbot: /generate routed by the body's model, /health says healthy", async () => {
    // The body chatbot/bee_server.py posts to {LLM_GATEWAY_URL}/generate.
    const body = (model?: string) => ({ message: 'Bee: hello', ...(model ? { model } : {}), max_tokens: 1500, temperature: 0.7, top_p: 0.9, stop: ['\nUser:'], hide_reasoning: true });
    expect((await ask('/generate', body('zephyr'))).json).toMatchObject({ model: 'zephyr', method: 'POST', path: '/generate' });
    expect((await ask('/generate', body('phi3'))).json).toMatchObject({ model: 'phi3', path: '/generate' });
    expect((await ask('/generate', body())).json).toMatchObject({ model: 'phi3', path: '/generate' });
    expect((await ask('/chat', { model: 'zephyr', messages: [{ role: 'user', content: 'hi' }] })).json).toMatchObject({ model: 'zephyr', path: '/chat' });
    const missing = await ask('/generate', body('llama3'));
    expect(missing.status).toBe(404);
    expect(missing.json).toMatchObject({ error: { code: 'model_not_found' } });
    expect((await ask('/health', undefined)).json).toMatchObject({ status: 'healthy', default_model: 'phi3' });
  });

  it('sends each request to the model it names, however it names it', async () => {
    const chat = (model: string) => ask('/v1/chat/completions', { model, messages: [{ role: 'user', content: 'hi' }] });
    expect((await chat('zephyr')).json).toMatchObject({ model: 'zephyr', path: '/v1/chat/completions' });
    expect((await chat('phi3')).json).toMatchObject({ model: 'phi3' });
    expect((await chat('HuggingFaceH4/zephyr-7b-beta')).json).toMatchObject({ model: 'zephyr' });
    expect((await ask('/v1/completions', { model: 'zephyr', prompt: 'x' })).json).toMatchObject({ model: 'zephyr', path: '/v1/completions' });
    // No model named: llm.default_model (phi3).
    expect((await ask('/v1/chat/completions', { messages: [] })).json).toMatchObject({ model: 'phi3' });
    // The X-Model header wins over the body; the path prefix wins over both.
    expect((await ask('/v1/chat/completions', { model: 'phi3' }, { 'X-Model': 'zephyr' })).json).toMatchObject({ model: 'zephyr' });
    expect((await ask('/models/zephyr/v1/chat/completions', { model: 'phi3' }, { 'X-Model': 'phi3' })).json).toMatchObject({ model: 'zephyr', path: '/v1/chat/completions' });
    // Any other path under the prefix reaches the model server without it.
    expect((await ask('/models/zephyr/health', undefined)).json).toMatchObject({ model: 'zephyr', method: 'GET', path: '/health' });
  });

  it('answers 404 naming the available models for a model that is disabled, too big or unknown', async () => {
    for (const [model, why] of [
      ['mistral', 'disabled in config.yml'],
      ['llama3', 'does not fit the memory of this machine'],
      ['gpt-4o', 'not configured in llm.models'],
    ] as const) {
      const answer = await ask('/v1/chat/completions', { model, messages: [] });
      expect(answer.status).toBe(404);
      expect(answer.json).toMatchObject({ available: ['phi3', 'zephyr'], error: { code: 'model_not_found' } });
      const message = (answer.json.error as { message: string }).message;
      expect(message).toContain(`Model ${model} is`);
      expect(message).toContain(why);
      expect(message).toContain('Available models: phi3, zephyr.');
    }
    expect((await ask('/v1/models', undefined)).json).toMatchObject({ data: [{ id: 'phi3' }, { id: 'zephyr' }] });
  });

  it('caches a repeated embeddings request, never a streamed answer', async () => {
    const body = { model: 'zephyr', input: `cache me ${RUN}` };
    const first = await ask('/v1/embeddings', body);
    const second = await ask('/v1/embeddings', body);
    expect(first.headers.get('x-cache-status')).toBe('MISS');
    expect(second.headers.get('x-cache-status')).toBe('HIT');
    expect(second.json.hit).toBe(first.json.hit);
    const other = await ask('/v1/embeddings', { ...body, input: 'something else' });
    expect(other.headers.get('x-cache-status')).toBe('MISS');
    // Chat caching is off by default.
    const chat = await ask('/v1/chat/completions', { model: 'zephyr', messages: [] });
    expect(chat.headers.get('x-cache-status')).toBe('BYPASS');

    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${base}/v1/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...body, stream: true }) });
      expect(res.headers.get('content-type')).toBe('text/event-stream');
      expect(res.headers.get('x-cache-status')).toBe('BYPASS');
      expect(await res.text()).toContain('data: [DONE]');
    }
  });

  it('spreads load over two replicas and skips one that was killed', async () => {
    const servedBy = async (n: number) => {
      const seen: string[] = [];
      for (let i = 0; i < n; i++) {
        const answer = await ask('/v1/chat/completions', { model: 'phi3', messages: [], n: i });
        expect(answer.status).toBe(200);
        seen.push(answer.json.served_by as string);
      }
      return seen;
    };
    const before = await servedBy(8);
    expect(new Set(before)).toEqual(new Set(['phi3', 'phi3-2']));

    await docker('kill', `${RUN}-phi3-2`);
    const after = await servedBy(6);
    expect(new Set(after)).toEqual(new Set(['phi3']));

    // While it is down its name does not resolve, so no new config can be checked.
    const hostPath = join(confDir, 'nginx.conf');
    const err = await applyGatewayConfig(renderFor({ ...OPEN, cache_embeddings_ttl: '30m' }), { hostPath, containerPath: CONTAINER_CONF, container: gateway }, createContainerExec(process.env)).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'GATEWAY_CONFIG', hint: expect.stringContaining('msting start phi3-2') });

    await docker('start', `${RUN}-phi3-2`);
  });

  it('refuses a broken config with nginx -t and keeps serving with the running one', async () => {
    const hostPath = join(confDir, 'nginx.conf');
    const running = await readFile(hostPath, 'utf8');
    const broken = renderFor({ ...OPEN, cache_embeddings_ttl: '20m' }).replace('least_conn;', 'least_connections;');
    const err = await applyGatewayConfig(broken, { hostPath, containerPath: CONTAINER_CONF, container: gateway }, createContainerExec(process.env)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MstingError);
    expect((err as MstingError).code).toBe('GATEWAY_CONFIG');
    expect((err as MstingError).details.join('\n')).toContain('unknown directive "least_connections"');
    expect(await readFile(hostPath, 'utf8')).toBe(running);
    expect((await ask('/v1/chat/completions', { model: 'zephyr', messages: [] })).json).toMatchObject({ model: 'zephyr' });
    const { stdout } = await docker('exec', gateway, 'sh', '-c', 'ls /tmp | grep -c msting-gateway-check || true');
    expect(stdout.trim()).toBe('0');
  });

  it('puts a checked config in place with a reload: a burst over the new limit gets 429 with Retry-After', async () => {
    const hostPath = join(confDir, 'nginx.conf');
    const strict = renderFor({ rate: '1r/m', burst: 2 });
    const result = await applyGatewayConfig(strict, { hostPath, containerPath: CONTAINER_CONF, container: gateway }, createContainerExec(process.env));
    expect(result.status).toBe('reloaded');
    expect(await readFile(hostPath, 'utf8')).toBe(strict);

    // The reload is asynchronous: the old workers finish, new ones take the new limit.
    const deadline = Date.now() + 10_000;
    let answers: Answer[] = [];
    while (Date.now() < deadline) {
      answers = [];
      for (let i = 0; i < 6; i++) answers.push(await ask('/v1/chat/completions', { model: 'zephyr', messages: [] }));
      if (answers.some((a) => a.status === 429)) break;
    }
    const limited = answers.filter((a) => a.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    expect(limited[0]!.headers.get('retry-after')).toBe('60');
    expect(limited[0]!.json).toMatchObject({ error: { code: 'rate_limited' } });
    expect(answers[0]!.status === 200 || answers[0]!.status === 429).toBe(true);
  });
});
