import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { printStatus } from '../../../src/commands/status.js';
import { configSchema } from '../../../src/config/schema.js';
import { planGateway } from '../../../src/gateway/plan.js';
import { buildStatus } from '../../../src/lifecycle/status.js';
import { planStack } from '../../../src/stack/plan.js';
import { Output } from '../../../src/ui/output.js';
import { makeRecommendation, TYPICAL_MODELS } from '../gateway/helpers.js';
import { container, details as detailsOf, makePlan, makeConfig } from './helpers.js';

function capture(): { out: Output; text: () => string } {
  let text = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  return { out: new Output('plain', false, false, { stdout: sink, stderr: new Writable({ write: (_c, _e, d) => d() }) }), text: () => text };
}

describe('status: the LLM gateway’s upstreams', () => {
  const config = configSchema.parse({ profile: 'full', llm: { models: TYPICAL_MODELS } });
  const recommendation = makeRecommendation(config, ['llama3']);
  const plan = planStack(config, recommendation, 'full', { modelsDir: '/models' });
  const gateway = planGateway(config.llm, recommendation);

  it('lists each routed model with the state of its replicas, and the models not routed', () => {
    const containers = [
      container('llm-gateway'),
      container('phi3'),
      container('phi3-2', { state: 'exited', health: 'none', statusText: 'Exited (137) 1 minute ago' }),
      container('zephyr', { health: 'starting', statusText: 'Up 3 seconds (health: starting)' }),
    ];
    const report = buildStatus({ plan, config, containers, gateway });
    expect(report.gateway?.routes.find((r) => r.model === 'phi3')).toMatchObject({
      default: true,
      live: 1,
      servers: [
        { service: 'phi3', address: 'phi3:8000', state: 'up' },
        { service: 'phi3-2', address: 'phi3-2:8000', state: 'down' },
      ],
    });
    expect(report.gateway?.unavailable).toEqual(expect.arrayContaining([{ model: 'llama3', reason: 'does-not-fit' }, { model: 'mistral', reason: 'disabled' }]));

    const { out, text } = capture();
    printStatus(report, out);
    expect(text()).toContain('phi3 (default) → phi3:8000 up, phi3-2:8000 down');
    expect(text()).toContain('zephyr → zephyr:8000 starting');
    expect(text()).toContain('llama3: not routed (does not fit)');
  });

  it('the stack status plans runs exactly the model services the gateway routes to', () => {
    const modelServices = plan.services.map((s) => s.name).filter((n) => ['phi3', 'phi3-2', 'zephyr', 'llama3'].includes(n));
    expect(modelServices.sort()).toEqual(gateway.routes.flatMap((r) => r.services).sort());
  });

  it('has no gateway field without an llm-gateway in the profile', () => {
    const report = buildStatus({ plan: makePlan(), config: makeConfig(), containers: [] });
    expect(report.gateway).toBeNull();
    const { out, text } = capture();
    printStatus(report, out);
    expect(text()).not.toContain('llm-gateway:');
  });
});

describe('status: paused services', () => {
  it('names a paused service as not healthy and says what resumes it', () => {
    const report = buildStatus({ plan: makePlan(), config: makeConfig(), containers: [container('db'), container('knowledge', { state: 'paused', statusText: 'Up 5 minutes (Paused)' })] });
    expect(report.services.find((s) => s.service === 'knowledge')).toMatchObject({ state: 'paused', ok: false });
    const { out, text } = capture();
    printStatus(report, out);
    expect(text()).toMatch(/^paused: knowledge \(frozen, not serving\): .*next `msting backup`, or run `docker unpause`$/m);
  });
});

describe('status: why a health check fails', () => {
  it('gives the failing check’s last line, credentials redacted, and nothing for a passing one', () => {
    const containers = [container('kratos', { health: 'unhealthy', statusText: 'Up 2 minutes (unhealthy)' }), container('db'), container('redis', { health: 'unhealthy', statusText: 'Up 2 minutes (unhealthy)' })];
    const details = new Map([
      [containers[0]!.id, detailsOf({ health: 'unhealthy', lastHealthOutput: "wget: can't connect to remote host (127.0.0.1): Connection refused\nwget: bad address 'kratos-admin:4434'\n\n" })],
      [containers[1]!.id, detailsOf({ health: 'healthy', lastHealthOutput: null })],
      [containers[2]!.id, detailsOf({ health: 'unhealthy', lastHealthOutput: `Could not connect to redis://default:s3cret-value@127.0.0.1:6379 ${'x'.repeat(400)}` })],
    ]);
    const report = buildStatus({ plan: makePlan(), config: makeConfig(), containers, details });
    const by = Object.fromEntries(report.services.map((s) => [s.service, s]));
    expect(by.kratos!.last_check).toBe("wget: bad address 'kratos-admin:4434'");
    expect(by.db!.last_check).toBeNull();
    expect(by.redis!.last_check).not.toContain('s3cret-value');
    expect(by.redis!.last_check!.length).toBeLessThanOrEqual(240);
    expect(by.redis!.last_check!.endsWith('…')).toBe(true);
    expect(by.vault!.last_check).toBeNull();

    const { out, text } = capture();
    printStatus(report, out);
    expect(text()).toContain("kratos: last health check failed: wget: bad address 'kratos-admin:4434'");
    expect(text()).not.toContain('db: last health check');
  });
});
