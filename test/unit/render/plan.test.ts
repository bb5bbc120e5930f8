import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { MstingError } from '../../../src/errors.js';
import { planStack, resolveProfileServices, resolveImage } from '../../../src/stack/plan.js';
import { FIXED_SERVICES, OBSERVABILITY_SERVICES } from '../../../src/stack/names.js';
import { cpuRecommendation, gpuRecommendation, makeConfig, render } from './fixtures.js';

type Compose = { services: Record<string, Record<string, unknown>>; volumes: Record<string, unknown>; networks: Record<string, unknown>; name: string };

function compose(config = makeConfig(), profile = 'full', rec = cpuRecommendation(config)): Compose {
  const stack = render(config, profile, { recommendation: rec });
  return parse(stack.files.get('compose/docker-compose.yml')!.content) as Compose;
}

describe('profiles', () => {
  it('default runs the core services only; observability adds four; full adds the LLM services and models', () => {
    const config = makeConfig();
    const rec = cpuRecommendation(config);
    const core = resolveProfileServices(config, 'default', rec);
    expect(core).toEqual(['app', 'chroma', 'db', 'frontend', 'knowledge', 'kratos', 'kratos-migrate', 'mailpit', 'messaging', 'redis', 'vault']);
    expect(resolveProfileServices(config, 'observability', rec)).toEqual([...core, ...OBSERVABILITY_SERVICES].sort());
    expect(resolveProfileServices(config, 'full', rec)).toEqual([...FIXED_SERVICES, 'phi3'].sort());
  });

  it('tags services so that `--profile P` starts exactly the services of P', () => {
    const c = compose();
    const startedBy = (p: string) =>
      Object.entries(c.services)
        .filter(([, s]) => !s.profiles || (s.profiles as string[]).includes(p))
        .map(([n]) => n)
        .sort();
    const config = makeConfig();
    for (const p of ['default', 'observability', 'full']) expect(startedBy(p)).toEqual(resolveProfileServices(config, p, cpuRecommendation(config)));
  });

  it('a custom profile adds its services and what they depend on', () => {
    const config = makeConfig({ profiles: { chat: { extends: 'default', services: ['chatbot'] } } });
    const services = resolveProfileServices(config, 'chat', cpuRecommendation(config));
    expect(services).toContain('chatbot');
    expect(services).toContain('llm-gateway');
    expect(services).toContain('phi3');
    expect(services).not.toContain('grafana');
    const c = compose(config, 'chat');
    expect(c.services.chatbot!.profiles).toEqual(['full', 'chat']);
  });

  it('rejects an unknown profile and a custom profile naming an unknown service', () => {
    const config = makeConfig({ profiles: { odd: { services: ['nosuch'] } } });
    expect(() => resolveProfileServices(config, 'nope')).toThrow(MstingError);
    expect(() => resolveProfileServices(config, 'odd')).toThrow(/nosuch/);
  });
});

describe('compose services', () => {
  it('publishes internal ports on bind_address and only the frontend on public_bind_address', () => {
    const c = compose(makeConfig({ ports: { db: 15433 } }));
    for (const [name, service] of Object.entries(c.services)) {
      for (const port of (service.ports ?? []) as { host_ip: string }[]) expect(port.host_ip, name).toBe(name === 'frontend' ? '0.0.0.0' : '127.0.0.1');
    }
    expect(c.services.db!.ports).toEqual([{ host_ip: '127.0.0.1', mode: 'host', protocol: 'tcp', published: '15433', target: 5432 }]);
    expect(c.services.frontend!.ports).toEqual([{ host_ip: '0.0.0.0', mode: 'host', protocol: 'tcp', published: '3010', target: 8443 }]);
    expect(c.services.chroma!.ports).toBeUndefined();
  });

  it('gives every long-running service a health check, hardening and a memory limit; the migrate job runs once', () => {
    const c = compose();
    for (const [name, s] of Object.entries(c.services)) {
      expect(s.privileged, name).toBeUndefined();
      expect(s.cap_drop, name).toEqual(['ALL']);
      expect(s.security_opt, name).toEqual(['no-new-privileges:true']);
      expect((s.deploy as { resources: { limits: { memory: string } } }).resources.limits.memory, name).toMatch(/^\d+[kmg]?$/);
      if (name === 'kratos-migrate') {
        expect(s.restart).toBe('no');
        expect(s.command).toEqual(['migrate', 'sql', '-e', '--yes', '--config', '/etc/config/kratos/kratos.yml']);
      } else {
        expect(s.restart, name).toBe('unless-stopped');
        expect((s.healthcheck as { test: string[] }).test.length, name).toBeGreaterThan(1);
      }
    }
    expect(c.services.kratos!.depends_on).toMatchObject({ 'kratos-migrate': { condition: 'service_completed_successfully' }, db: { condition: 'service_healthy' } });
    expect(c.services.kratos!.image).toBe('oryd/kratos:v1.3.0');
    expect(c.services.db!.image).toBe('postgres:16');
    expect(c.services.redis!.image).toBe('redis:7-alpine');
    expect(c.services['llm-gateway']!.image).toBe('nginx:1.27-alpine');
  });

  it('names the project, the segmented networks and a named volume for every piece of state', () => {
    const c = compose(makeConfig({ project: { name: 'sting-two' } }));
    expect(c.name).toBe('sting-two');
    expect(Object.keys(c.networks).sort()).toEqual(['app', 'data', 'edge', 'models']);
    for (const v of ['vault_data', 'postgres_data', 'redis_data', 'app_home', 'chroma_data', 'knowledge_data', 'knowledge_uploads', 'grafana_data', 'loki_data', 'mailpit_data', 'messaging_data']) {
      expect(c.volumes, v).toHaveProperty(v);
    }
  });

  it('mounts config files read-only', () => {
    const c = compose();
    for (const [name, s] of Object.entries(c.services)) {
      for (const v of (s.volumes ?? []) as { type: string; source: string; read_only?: boolean }[]) {
        if (v.type === 'bind' && v.source.startsWith('./config/')) expect(v.read_only, `${name} ${v.source}`).toBe(true);
      }
    }
  });

  it('takes limits and stop timeout from config, and memory of model services from the recommendation', () => {
    const config = makeConfig({ resources: { app: { memory: '2GiB', cpus: 2, pids: 300 } }, stop_timeout: 90 });
    const c = compose(config, 'full', { ...cpuRecommendation(config), models: [{ name: 'phi3', fits: true, requiredBytes: 1, memoryLimit: '12g', quantization: 'int4', reason: 'ok' }] });
    expect(c.services.app!.deploy).toEqual({ resources: { limits: { memory: '2g', cpus: '2', pids: 300 } } });
    // Without a setting: the stack's own limit; a model service gets room for its thread pools.
    expect((c.services.knowledge!.deploy as { resources: { limits: { pids: number } } }).resources.limits.pids).toBe(1024);
    expect((c.services.phi3!.deploy as { resources: { limits: { pids: number } } }).resources.limits.pids).toBe(4096);
    expect(c.services.app!.stop_grace_period).toBe('90s');
    expect((c.services.phi3!.deploy as { resources: { limits: { memory: string } } }).resources.limits.memory).toBe('12g');
  });
});

describe('model services', () => {
  it('reserve the GPU only when the recommendation says so', () => {
    const config = makeConfig();
    const cpu = compose(config, 'full', cpuRecommendation(config));
    expect(JSON.stringify(cpu.services.phi3)).not.toContain('reservations');
    const gpu = compose(config, 'full', gpuRecommendation(config));
    expect(gpu.services.phi3!.deploy).toMatchObject({
      resources: { reservations: { devices: [{ driver: 'nvidia', device_ids: ['GPU-00000000-1111-2222-3333-444444444444'], capabilities: ['gpu'] }] } },
    });
    expect(gpu.services.phi3!.image).toBe('ghcr.io/alphabytez/sting-ce-llm-phi3:latest');
    expect(gpu.services.phi3!.volumes).toEqual([{ type: 'bind', source: '/opt/models', target: '/models', read_only: true, bind: { create_host_path: true } }]);
  });

  it('are not started when the recommendation says the model does not fit', () => {
    const config = makeConfig();
    const rec = { ...cpuRecommendation(config), models: [{ name: 'phi3', fits: false, requiredBytes: 1, memoryLimit: '8g', quantization: 'int8' as const, reason: 'needs 30 GiB, 16 GiB available' }] };
    const plan = planStack(config, rec, 'full', { modelsDir: '/m' });
    expect(plan.services.map((s) => s.name)).not.toContain('phi3');
    expect(plan.warnings).toEqual(['model phi3 is not started: needs 30 GiB, 16 GiB available']);
  });
});

describe('images', () => {
  it('uses the registry and version for STING images, overrides win, digests are appended', () => {
    const config = makeConfig({
      images: {
        registry: 'registry.local:5000/sting/',
        version: '1.2.3',
        overrides: { db: 'mirror.local/postgres:16.4' },
        digests: { app: `sha256:${'a'.repeat(64)}`, db: `sha256:${'b'.repeat(64)}` },
      },
    });
    expect(resolveImage(config, 'app')).toBe(`registry.local:5000/sting/sting-ce-app:1.2.3@sha256:${'a'.repeat(64)}`);
    expect(resolveImage(config, 'db')).toBe(`mirror.local/postgres:16.4@sha256:${'b'.repeat(64)}`);
    expect(resolveImage(config, 'frontend')).toBe('registry.local:5000/sting/sting-ce-frontend:1.2.3');
  });
});
