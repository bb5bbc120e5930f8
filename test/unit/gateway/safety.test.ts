import { describe, expect, it } from 'vitest';
import { configSchema, type MstingConfig } from '../../../src/config/schema.js';
import { MstingError } from '../../../src/errors.js';
import { planGateway, type GatewayPlan } from '../../../src/gateway/plan.js';
import { renderGatewayConfig } from '../../../src/gateway/render.js';
import { makeConfig, makeRecommendation, TYPICAL_MODELS } from './helpers.js';

/** A config object as it might reach the renderer without the schema (hand-built, or a future caller). */
function unchecked(mutate: (llm: MstingConfig['llm']) => void): MstingConfig {
  const config = structuredClone(makeConfig({ models: TYPICAL_MODELS }));
  mutate(config.llm);
  return config;
}

function renderUnchecked(config: MstingConfig, stateDir?: string): string {
  return renderGatewayConfig(planGateway(config.llm, makeRecommendation(config)), stateDir === undefined ? {} : { stateDir });
}

const DIRECTIVE_INJECTIONS = [
  'phi3; } server { listen 80; location / { return 200 owned; } } #',
  'phi3\n    include /etc/passwd;',
  'phi3 $request_body',
  "phi3' '",
  'phi3"',
  'Phi3',
  '',
];

describe('no config value can inject into the gateway config', () => {
  it.each(DIRECTIVE_INJECTIONS)('the schema refuses the model name %j', (name) => {
    const result = configSchema.safeParse({ llm: { models: [{ name, repo: 'org/model' }] } });
    expect(result.success).toBe(false);
  });

  it.each(DIRECTIVE_INJECTIONS)('the renderer refuses the model name %j even without the schema', (name) => {
    const config = unchecked((llm) => {
      llm.models[0]!.name = name;
    });
    expect(() => renderUnchecked(config)).toThrow(MstingError);
    try {
      renderUnchecked(config);
    } catch (err) {
      expect((err as MstingError).code).toBe('CONFIG_INVALID');
      expect((err as MstingError).details.join('\n')).toContain('llm.models[0].name');
    }
  });

  it.each(['phi3; include /etc/passwd', 'phi3 }', '$msting_upstream'])('refuses default_model %j', (name) => {
    const config = unchecked((llm) => {
      llm.default_model = name;
    });
    expect(() => renderUnchecked(config)).toThrow(/cannot be rendered/);
  });

  it.each([
    ['rate', '2r/s; include /etc/passwd'],
    ['rate', '0r/s'],
    ['read_timeout', '300s; include /etc/passwd'],
    ['cache_embeddings_ttl', '10m }'],
  ] as const)('refuses llm.gateway.%s = %j', (key, value) => {
    const config = unchecked((llm) => {
      (llm.gateway as Record<string, unknown>)[key] = value;
    });
    expect(() => renderUnchecked(config)).toThrow(MstingError);
  });

  it('refuses a burst that is not a small whole number', () => {
    const config = unchecked((llm) => {
      llm.gateway.burst = 1.5;
    });
    expect(() => renderUnchecked(config)).toThrow(MstingError);
  });

  it('leaves out a repository id that could break out of its place, and still routes the model by name', () => {
    const config = unchecked((llm) => {
      llm.models[1]!.repo = "evil/x'; } server { listen 81; } #";
    });
    const conf = renderUnchecked(config);
    expect(conf).not.toContain('evil');
    expect(conf).toContain('\\zephyr model_zephyr;');
  });

  it.each(['/tmp; include /etc/passwd', 'relative', '/tmp/../etc', '/tmp dir'])('refuses the state directory %j', (dir) => {
    expect(() => renderUnchecked(makeConfig({ models: TYPICAL_MODELS }), dir)).toThrow(MstingError);
  });

  it('keeps every value of a valid config in its place: braces balance and each directive ends its line', () => {
    const conf = renderUnchecked(makeConfig({ models: TYPICAL_MODELS }));
    const unquoted = conf
      .split('\n')
      .filter((l) => !l.trim().startsWith('#'))
      .map((l) => l.replace(/'[^']*'/g, "''").replace(/"[^"]*"/g, '""'))
      .join('\n');
    const opens = (unquoted.match(/\{/g) ?? []).length;
    const closes = (unquoted.match(/\}/g) ?? []).length;
    expect(opens).toBe(closes);
    for (const line of unquoted.split('\n').map((l) => l.trim())) {
      if (line === '' || line.endsWith('{') || line === '}') continue;
      expect(line.endsWith(';'), line).toBe(true);
    }
  });
});

describe('values reach the gateway template only through its guards', () => {
  /** A plan as planGateway makes it, changed afterwards: what a future caller could hand the renderer. */
  function changedPlan(change: (plan: GatewayPlan) => void): GatewayPlan {
    const config = makeConfig({ models: TYPICAL_MODELS });
    const plan = planGateway(config.llm, makeRecommendation(config, ['llama3']));
    change(plan);
    return plan;
  }

  it.each<[string, (plan: GatewayPlan) => void]>([
    ['a routed model name', (p) => void (p.routes[0]!.name = 'phi3; include /etc/passwd')],
    ['a repository alias', (p) => void p.routes[1]!.aliases.push("x'; } server { listen 81; } #")],
    ['an upstream name', (p) => void (p.routes[0]!.upstream = 'model_phi3 { }')],
    ['a replica service', (p) => void (p.routes[0]!.services[1] = 'phi3-2:8000 backup; server evil')],
    ['a model that is not routed', (p) => void (p.unavailable[0]!.name = "llama3' always; return 200 '")],
    ['the default model', (p) => void (p.defaultModel = 'phi3\n    include /etc/passwd;')],
    ['the rate', (p) => void (p.rateLimit.rate = '2r/s"; include /etc/passwd; "')],
  ])('refuses %s that would add a directive or end a block, even past planGateway', (_, change) => {
    const plan = changedPlan(change);
    expect(() => renderGatewayConfig(plan)).toThrow(MstingError);
    try {
      renderGatewayConfig(plan);
    } catch (err) {
      expect((err as MstingError).code).toBe('CONFIG_INVALID');
    }
  });

  it('writes a model named like a map parameter as a literal key, never as the parameter', () => {
    const config = makeConfig({ default_model: 'include', models: [{ name: 'include', repo: 'org/include' }, { name: 'hostnames', repo: 'org/h', enabled: false }] });
    const conf = renderGatewayConfig(planGateway(config.llm, makeRecommendation(config)));
    expect(conf).toContain('    \\include model_include;\n');
    expect(conf).toContain("    \\hostnames 'Model hostnames is disabled");
    expect(conf).not.toMatch(/^\s*(include|hostnames)\b/m);
  });
});

describe('model and service names that would collide', () => {
  it('refuses a model named like a service of the stack', () => {
    const config = makeConfig({ models: [{ name: 'redis', repo: 'org/redis-llm' }] });
    expect(() => planGateway(config.llm, makeRecommendation(config))).toThrow(/cannot be rendered/);
  });

  it('refuses a model named like another model\'s replica', () => {
    const config = makeConfig({
      models: [
        { name: 'phi3', repo: 'org/a', replicas: 2 },
        { name: 'phi3-2', repo: 'org/b' },
      ],
    });
    try {
      planGateway(config.llm, makeRecommendation(config));
      expect.unreachable();
    } catch (err) {
      expect((err as MstingError).details.join('\n')).toContain('service "phi3-2" is used by both "phi3" and "phi3-2"');
    }
  });

  it('refuses the same model twice', () => {
    const config = makeConfig({ models: [{ name: 'phi3', repo: 'org/a' }, { name: 'phi3', repo: 'org/b' }] });
    expect(() => planGateway(config.llm, makeRecommendation(config))).toThrow(MstingError);
  });
});
