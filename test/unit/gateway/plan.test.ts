import { describe, expect, it } from 'vitest';
import { cpuFallbackRecommendation } from '../../../src/hardware/types.js';
import { modelReplicaServices } from '../../../src/gateway/naming.js';
import { durationToMs, planGateway } from '../../../src/gateway/plan.js';
import { formatGatewayUpstreams, gatewayUpstreams, serviceStates } from '../../../src/gateway/upstreams.js';
import { makeConfig, makeRecommendation, TYPICAL_MODELS } from './helpers.js';

describe('planGateway', () => {
  it('routes enabled models that fit, and says why the others are not routed', () => {
    const config = makeConfig({ models: TYPICAL_MODELS });
    const plan = planGateway(config.llm, makeRecommendation(config, ['llama3']));
    expect(plan.routes.map((r) => [r.name, r.services])).toEqual([
      ['phi3', ['phi3', 'phi3-2']],
      ['zephyr', ['zephyr']],
    ]);
    expect(plan.unavailable.map((u) => [u.name, u.reason])).toEqual([
      ['llama3', 'does-not-fit'],
      ['mistral', 'disabled'],
    ]);
    expect(plan.defaultRoute).toBe('phi3');
  });

  it('does not route a model the recommendation did not assess', () => {
    const config = makeConfig({ models: TYPICAL_MODELS });
    const recommendation = makeRecommendation(config);
    recommendation.models = recommendation.models.filter((m) => m.name !== 'zephyr');
    const plan = planGateway(config.llm, recommendation);
    expect(plan.unavailable).toContainEqual(expect.objectContaining({ name: 'zephyr', reason: 'not-assessed' }));
  });

  it('follows the CPU fallback recommendation for the default config', () => {
    const config = makeConfig();
    const plan = planGateway(config.llm, cpuFallbackRecommendation(config.llm.models));
    expect(plan.routes.map((r) => r.name)).toEqual(['phi3']);
    expect(plan.cache).toEqual({ chatSeconds: 0, embeddingsSeconds: 600 });
    expect(plan.rateLimit).toEqual({ rate: '2r/s', burst: 5, retryAfterSeconds: 1 });
    expect(plan.readTimeoutMs).toBe(300_000);
  });

  it('converts durations', () => {
    expect(durationToMs('1h30m', 'k')).toBe(5_400_000);
    expect(durationToMs('250ms', 'k')).toBe(250);
    expect(durationToMs('0', 'k')).toBe(0);
    expect(() => durationToMs('5 minutes', 'llm.gateway.read_timeout')).toThrow(/llm.gateway.read_timeout/);
  });

  it('names replicas <model>, <model>-2, ... so adding one leaves the first alone', () => {
    expect(modelReplicaServices({ name: 'phi3', replicas: 1 })).toEqual(['phi3']);
    expect(modelReplicaServices({ name: 'phi3', replicas: 3 })).toEqual(['phi3', 'phi3-2', 'phi3-3']);
  });
});

describe('gatewayUpstreams', () => {
  const config = makeConfig({ models: TYPICAL_MODELS });
  const plan = planGateway(config.llm, makeRecommendation(config, ['llama3']));

  it('joins each upstream server with its container state', () => {
    const states = new Map([
      ['phi3', { running: true, health: 'healthy' as const }],
      ['phi3-2', { running: false, health: 'none' as const }],
      ['zephyr', { running: true, health: 'starting' as const }],
    ]);
    const upstreams = gatewayUpstreams(plan, states);
    expect(upstreams.routes).toEqual([
      {
        model: 'phi3',
        upstream: 'model_phi3',
        default: true,
        live: 1,
        servers: [
          { service: 'phi3', address: 'phi3:8000', state: 'up' },
          { service: 'phi3-2', address: 'phi3-2:8000', state: 'down' },
        ],
      },
      { model: 'zephyr', upstream: 'model_zephyr', default: false, live: 0, servers: [{ service: 'zephyr', address: 'zephyr:8000', state: 'starting' }] },
    ]);
    expect(formatGatewayUpstreams(upstreams)).toEqual([
      'phi3 (default) → phi3:8000 up, phi3-2:8000 down',
      'zephyr → zephyr:8000 starting',
      'llama3: not routed (does not fit)',
      'mistral: not routed (disabled)',
    ]);
  });

  it('reads container states as the Docker adapter lists them', () => {
    const states = serviceStates([
      { service: 'phi3', state: 'running', health: 'none' },
      { service: 'phi3-2', state: 'exited', health: 'none' },
      { service: 'zephyr', state: 'running', health: 'unhealthy' },
    ]);
    expect(gatewayUpstreams(plan, states).routes.map((r) => r.live)).toEqual([1, 0]);
  });

  it('says unknown when no container states are given', () => {
    expect(gatewayUpstreams(plan).routes[0]!.servers[0]!.state).toBe('unknown');
  });
});
