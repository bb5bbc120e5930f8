import { configSchema, type MstingConfig } from '../../../src/config/schema.js';
import type { ContainerDetails, ContainerInfo } from '../../../src/docker/engine.js';
import { cpuFallbackRecommendation } from '../../../src/hardware/types.js';
import { planStack, type StackPlan } from '../../../src/stack/plan.js';

export function makeConfig(input: Record<string, unknown> = {}): MstingConfig {
  return configSchema.parse(input);
}

export function makePlan(input: Record<string, unknown> = {}, profile = 'default'): StackPlan {
  const config = makeConfig(input);
  return planStack(config, cpuFallbackRecommendation(config.llm.models), profile, { modelsDir: '/models' });
}

let counter = 0;
export function container(service: string, overrides: Partial<ContainerInfo> = {}): ContainerInfo {
  counter += 1;
  return {
    id: `id-${service}-${counter}`,
    name: `sting-ce-${service}-1`,
    service,
    image: `img/${service}`,
    state: 'running',
    health: 'healthy',
    statusText: 'Up 5 minutes (healthy)',
    created: 1_700_000_000,
    ports: [],
    labels: { 'com.docker.compose.project': 'sting-ce', 'com.docker.compose.service': service },
    ...overrides,
  };
}

export function details(overrides: Partial<ContainerDetails> = {}): ContainerDetails {
  return {
    id: 'x',
    name: 'x',
    service: 'x',
    state: 'running',
    health: 'healthy',
    hasHealthcheck: true,
    healthIntervalS: 30,
    exitCode: 0,
    restartCount: 0,
    startedAt: null,
    finishedAt: null,
    oomKilled: false,
    lastHealthOutput: null,
    error: '',
    ...overrides,
  };
}
