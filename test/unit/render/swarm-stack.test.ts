import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildSwarmStack, renderSwarmStackFile, SwarmRenderError, type SwarmRenderInput } from '../../../src/render/swarm-stack.js';
import { TLS_FILES } from '../../../src/stack/plan.js';
import type { RenderedStack } from '../../../src/render/render-stack.js';
import { FAKE_SECRETS, gpuRecommendation, makeConfig, render } from './fixtures.js';

const HOST_FILES: Record<string, string> = {
  'secrets/vault-token-app': 'fake-host-vault-token-app',
  [TLS_FILES.cert]: '-----BEGIN CERTIFICATE-----\nfake\n-----END CERTIFICATE-----\n',
  [TLS_FILES.key]: '-----BEGIN PRIVATE KEY-----\nfake-tls-key\n-----END PRIVATE KEY-----\n',
};

function swarmInput(rendered: RenderedStack, extra: Partial<SwarmRenderInput> = {}): SwarmRenderInput {
  return {
    plan: rendered.plan,
    home: '/opt/sting-ce',
    rendered: [...rendered.files.keys()],
    envFiles: new Set([...rendered.files.keys()].filter((p) => p.startsWith('env/')).map((p) => p.slice(4, -4))),
    contentOf: (path) => rendered.files.get(path)?.content ?? HOST_FILES[path],
    imageProcess: () => ({ entrypoint: ['/entrypoint.sh'], cmd: ['serve'] }),
    gpuResource: null,
    routingMesh: true,
    ...extra,
  };
}

interface Service {
  entrypoint: string[];
  environment?: unknown;
  secrets: { target: string }[];
  configs: { target: string }[];
  ports: { mode: string }[];
  volumes: unknown[];
  deploy: {
    endpoint_mode: string;
    update_config: { order: string };
    placement?: { constraints: string[] };
    restart_policy: unknown;
    resources: { limits: { memory: string }; reservations?: unknown };
  };
}
type Doc = { services: Record<string, Service>; networks: Record<string, Record<string, unknown>>; secrets: Record<string, { external: boolean; name: string }>; configs: Record<string, unknown> };

function swarmDoc(rendered: RenderedStack, extra: Partial<SwarmRenderInput> = {}): { text: string; doc: Doc; stack: ReturnType<typeof buildSwarmStack> } {
  const stack = buildSwarmStack(swarmInput(rendered, extra));
  const text = renderSwarmStackFile(stack);
  return { text, doc: parse(text) as Doc, stack };
}

const modelConfig = () =>
  makeConfig({
    orchestrator: 'swarm',
    llm: { models: [{ name: 'phi3', repo: 'microsoft/Phi-3-mini-4k-instruct', enabled: true, memory_limit: '6g' }] },
  });

describe('Swarm stack file', () => {
  const rendered = render(makeConfig({ orchestrator: 'swarm' }), 'default');

  it('has overlay networks, the data network internal, and no depends_on or profiles', () => {
    const { doc, text } = swarmDoc(rendered);
    expect(doc.networks.data).toMatchObject({ driver: 'overlay', internal: true, attachable: true });
    expect(doc.networks.edge).toMatchObject({ driver: 'overlay' });
    expect(doc.networks.edge!.internal).toBeUndefined();
    expect(text).not.toMatch(/depends_on|profiles:|container_name|env_file/);
    expect(Object.keys(doc.services).sort()).toEqual(rendered.plan.services.map((s) => s.name).sort());
  });

  it('gives each network its own aliases: Kratos is kratos-admin on the app network alone, where its admin API listens', () => {
    const { doc } = swarmDoc(rendered);
    const networks = (doc.services.kratos as unknown as { networks: Record<string, { aliases: unknown }> }).networks;
    for (const n of Object.values(networks)) expect(Array.isArray(n.aliases)).toBe(true);
    expect(networks.app!.aliases).toContain('kratos-admin');
    expect(networks.edge!.aliases).not.toContain('kratos-admin');
  });

  it('holds no secret value: env files, Vault tokens and the TLS key are external Swarm secrets', () => {
    const { text, doc, stack } = swarmDoc(rendered);
    for (const id of ['db.postgres', 'kratos.cookie', 'app.flask', 'mailpit.ui']) expect(text).not.toContain(FAKE_SECRETS.get(id)!);
    expect(text).not.toContain('fake-host-vault-token-app');
    expect(text).not.toContain('fake-tls-key');
    for (const secret of Object.values(doc.secrets)) expect(secret.external).toBe(true);
    const app = doc.services.app!;
    expect(app.environment).toBeUndefined();
    expect(app.secrets.map((s) => s.target)).toEqual(expect.arrayContaining(['msting.env', 'vault-token']));
    // The service's own program runs after its env file is sourced.
    expect(app.entrypoint.slice(0, 2)).toEqual(['/bin/sh', '-c']);
    expect(app.entrypoint[2]).toContain('. /run/secrets/msting.env');
    const frontend = doc.services.frontend!;
    expect(frontend.secrets.map((s) => s.target)).toContain('/etc/nginx/certs/server.key');
    expect(frontend.configs.map((c) => c.target)).toEqual(expect.arrayContaining(['/etc/nginx/nginx.conf', '/etc/nginx/certs/server.crt']));
    expect(stack.objects.filter((o) => o.kind === 'secret').map((o) => o.source)).toEqual(expect.arrayContaining(['env/db.env', 'secrets/vault-token-app', TLS_FILES.key]));
  });

  it('names a secret by its content: a rotated value is a new secret, an unchanged one keeps its name', () => {
    const other = render(makeConfig({ orchestrator: 'swarm' }), 'default', {
      secrets: { get: (id) => (id === 'db.postgres' ? 'rotated-value' : FAKE_SECRETS.get(id)), resolveRef: () => undefined },
    });
    const before = new Map(swarmDoc(rendered).stack.objects.map((o) => [o.source, o.name]));
    const after = new Map(swarmDoc(other).stack.objects.map((o) => [o.source, o.name]));
    expect(after.get('env/db.env')).not.toBe(before.get('env/db.env'));
    expect(after.get('env/app.env')).toBe(before.get('env/app.env'));
    for (const name of after.values()) expect(name).toMatch(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/);
  });

  it('publishes the frontend through the routing mesh; without it, on the node that runs it, with DNS round robin', () => {
    const mesh = swarmDoc(rendered).doc.services.frontend!;
    expect(mesh.ports).toEqual([{ target: 8443, published: 3010, protocol: 'tcp', mode: 'ingress' }]);
    expect(mesh.deploy.endpoint_mode).toBe('vip');
    const direct = swarmDoc(rendered, { routingMesh: false }).doc.services.frontend!;
    expect(direct.ports[0]!.mode).toBe('host');
    expect(direct.deploy.endpoint_mode).toBe('dnsrr');
  });

  it('rolls updates one task at a time and rolls back a failed one; stateful services stay on the manager', () => {
    const { doc } = swarmDoc(rendered);
    for (const service of Object.values(doc.services)) {
      expect(service.deploy.update_config).toMatchObject({ parallelism: 1, failure_action: 'rollback' });
      expect(service.deploy.resources.limits.memory).toMatch(/^\d+[mg]$/);
    }
    expect(doc.services.db!.deploy.placement!.constraints).toEqual(['node.role==manager']);
    expect(doc.services.db!.deploy.update_config.order).toBe('stop-first');
    expect(doc.services.frontend!.deploy.placement).toBeUndefined();
    expect(doc.services.frontend!.deploy.update_config.order).toBe('start-first');
    expect(doc.services['kratos-migrate']!.deploy.restart_policy).toEqual({ condition: 'none' });
  });

  it('places model services on nodes labelled sting.gpu=true, reserving their memory and a GPU where nodes advertise one', () => {
    const config = modelConfig();
    const full = render(config, 'full', { recommendation: gpuRecommendation(config) });
    const withGpu = swarmDoc(full, { gpuResource: 'NVIDIA-GPU' }).doc.services.phi3!;
    expect(withGpu.deploy.placement!.constraints).toEqual(['node.labels.sting.gpu==true']);
    expect(withGpu.deploy.resources.reservations).toEqual({ memory: '6g', generic_resources: [{ discrete_resource_spec: { kind: 'NVIDIA-GPU', value: 1 } }] });
    const withoutGpu = swarmDoc(full).doc.services.phi3!;
    expect(withoutGpu.deploy.resources.reservations).toEqual({ memory: '6g' });
    expect(withoutGpu.volumes).toContainEqual({ type: 'bind', source: '/opt/models', target: '/models', read_only: true });
  });

  it('a deploy wave holds only its services and the networks they join', () => {
    const { doc } = swarmDoc(rendered, { services: new Set(['vault']) });
    expect(Object.keys(doc.services)).toEqual(['vault']);
    expect(Object.keys(doc.networks)).toEqual(rendered.plan.services.find((s) => s.name === 'vault')!.networks);
  });

  it('refuses to render without the TLS files, naming them', () => {
    const input = swarmInput(rendered, { contentOf: (path) => rendered.files.get(path)?.content ?? (path === 'secrets/vault-token-app' ? 'x' : undefined) });
    expect(() => buildSwarmStack(input)).toThrow(SwarmRenderError);
    expect(() => buildSwarmStack(input)).toThrow(/certs\/server\.key \(for frontend\)/);
  });
});
