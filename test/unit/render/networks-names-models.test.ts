import { mkdtemp, readFile, readlink, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { modelsOrThrow } from '../../../src/lifecycle/start-stack.js';
import { validateConfigText } from '../../../src/config/validate.js';
import { MstingError } from '../../../src/errors.js';
import { planStart } from '../../../src/lifecycle/start.js';
import { readModelCommits } from '../../../src/models/snapshots.js';
import { renderStack } from '../../../src/render/render-stack.js';
import { KRATOS_ADMIN_HOST, splitSubnet } from '../../../src/stack/networks.js';
import { GRAFANA_DASHBOARDS, planStack } from '../../../src/stack/plan.js';
import { layOutModel } from '../../support/model-cache.js';
import { FAKE_SECRETS, cpuRecommendation, makeConfig } from './fixtures.js';

type Service = { networks: Record<string, { aliases: string[] }>; ports?: unknown[]; container_name?: string; environment?: unknown; healthcheck?: { test: string[] } };
type Compose = { services: Record<string, Service>; networks: Record<string, { internal?: boolean; ipam?: { config: { subnet: string }[] } }> };

function renderFull(config = makeConfig(), modelCommits?: Map<string, string>) {
  return renderStack({ config, profile: 'full', recommendation: cpuRecommendation(config), secrets: FAKE_SECRETS, modelsDir: '/opt/models', modelCommits });
}

function compose(config = makeConfig()): Compose {
  return parse(renderFull(config).files.get('compose/docker-compose.yml')!.content) as Compose;
}

function env(stack: ReturnType<typeof renderFull>, service: string): Record<string, string> {
  const text = stack.files.get(`env/${service}.env`)!.content;
  return Object.fromEntries(
    text
      .split('\n')
      .filter((l) => /^[A-Z_]+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1).replace(/^'|'$/g, '')]),
  );
}

describe('segmented networks', () => {
  const c = compose();
  const on = (service: string) => Object.keys(c.services[service]!.networks).sort();
  const members = (network: string) =>
    Object.entries(c.services)
      .filter(([, s]) => network in s.networks)
      .map(([n]) => n)
      .sort();

  it('keeps the data stores on the internal data network, reached only by their clients', () => {
    expect(c.networks.data!.internal).toBe(true);
    expect(on('redis')).toEqual(['data']);
    expect(on('chroma')).toEqual(['data']);
    expect(members('data')).toEqual(['app', 'chatbot', 'chroma', 'db', 'external-ai', 'knowledge', 'kratos', 'kratos-migrate', 'messaging', 'redis', 'vault']);
  });

  it('never publishes Redis, and puts a published data store on the ports network alone besides data', () => {
    expect(c.services.redis!.ports).toBeUndefined();
    const set = validateConfigText('ports:\n  redis: 16379\n');
    expect(set.errors).toEqual([]);
    expect(set.warnings.map((w) => w.path)).toEqual(['ports.redis']);
    expect(set.warnings[0]!.message).toContain('ports.redis is ignored');
    expect(compose(makeConfig({ ports: { redis: 16379 } })).services.redis!.ports).toBeUndefined();
    // Unpublished (the default), the data stores sit on the internal data network alone.
    expect(on('db')).toEqual(['data']);
    expect(on('vault')).toEqual(['data']);
    expect(c.networks.ports).toBeUndefined();
    // Published on request, a data store also joins the ports network, which carries only that.
    const published = compose(makeConfig({ ports: { db: 15433, vault: 18200 } }));
    const onPublished = (service: string) => Object.keys(published.services[service]!.networks).sort();
    expect(onPublished('db')).toEqual(['data', 'ports']);
    expect(onPublished('vault')).toEqual(['data', 'ports']);
  });

  it('puts the frontend on the edge network only, with what it proxies to', () => {
    expect(on('frontend')).toEqual(['edge']);
    expect(members('edge')).toEqual(['app', 'chatbot', 'frontend', 'knowledge', 'kratos', 'mailpit']);
  });

  it("under Swarm, binds Kratos's admin API to every address of its task (its own alias may not resolve yet when it starts)", () => {
    const stack = renderFull(makeConfig({ orchestrator: 'swarm' }));
    const admin = (parse(stack.files.get('compose/config/kratos/kratos.yml')!.content) as { serve: { admin: { host: string } } }).serve.admin.host;
    expect(admin).toBe('0.0.0.0');
  });

  it("binds Kratos's admin API to a name Kratos has on the app network alone, where all its callers are and the frontend is not", () => {
    const stack = renderFull();
    const admin = (parse(stack.files.get('compose/config/kratos/kratos.yml')!.content) as { serve: { admin: { host: string } } }).serve.admin.host;
    expect(admin).toBe(KRATOS_ADMIN_HOST);
    const withName = Object.entries(c.services).flatMap(([service, s]) => Object.entries(s.networks).filter(([, a]) => a.aliases.includes(admin)).map(([n]) => `${service} on ${n}`));
    expect(withName).toEqual(['kratos on app']);
    const callers = Object.keys(c.services).filter((s) => stack.files.has(`env/${s}.env`) && env(stack, s).KRATOS_ADMIN_URL !== undefined);
    expect(callers.length).toBeGreaterThan(0);
    for (const caller of callers) expect(on(caller), caller).toContain('app');
    expect(on('frontend')).not.toContain('app');
    // Kratos's own health check asks the admin API where it listens.
    expect(c.services.kratos!.healthcheck!.test.join(' ')).toContain(`https://${admin}:4434/health/ready`);
  });

  it('gives the model services an internal network shared with the gateway alone', () => {
    expect(c.networks.models!.internal).toBe(true);
    expect(members('models')).toEqual(['llm-gateway', 'phi3']);
    expect(on('phi3')).toEqual(['models']);
    expect(on('llm-gateway')).toEqual(['app', 'models']);
    expect(on('chatbot')).toContain('app');
  });

  it('cuts network.subnet into one part per network, the same whatever the profile', () => {
    expect(splitSubnet('172.30.0.0/16', 8).slice(0, 3)).toEqual(['172.30.0.0/19', '172.30.32.0/19', '172.30.64.0/19']);
    const config = makeConfig({ network: { subnet: '10.20.0.0/16' } });
    const full = compose(config);
    const plain = parse(renderStack({ config, profile: 'default', recommendation: cpuRecommendation(config), secrets: FAKE_SECRETS, modelsDir: '/m' }).files.get('compose/docker-compose.yml')!.content) as Compose;
    expect(full.networks.data!.ipam!.config[0]!.subnet).toBe('10.20.64.0/19');
    expect(plain.networks.data!.ipam!.config[0]!.subnet).toBe('10.20.64.0/19');
    expect(() => splitSubnet('10.0.0.0/27', 8)).toThrow(MstingError);
  });
});

describe("STING-CE's container names", () => {
  it('answers to sting-ce-<service> on every network, under any project name', () => {
    const c = compose(makeConfig({ project: { name: 'sting-two' } }));
    for (const [name, s] of Object.entries(c.services)) {
      for (const [network, attach] of Object.entries(s.networks)) expect(attach.aliases[0], `${name} on ${network}`).toBe(`sting-ce-${name}`);
      expect(s.container_name, name).toBeUndefined();
    }
  });

  it('fixes the container names only under the project name STING-CE uses', () => {
    const c = compose(makeConfig());
    expect(c.services.grafana!.container_name).toBe('sting-ce-grafana');
    expect(c.services.promtail!.container_name).toBe('sting-ce-promtail');
  });
});

describe('model services', () => {
  it('point MODEL_PATH at the snapshot of the downloaded commit', () => {
    const commit = 'a'.repeat(40);
    const stack = renderFull(makeConfig(), new Map([['phi3', commit]]));
    const e = env(stack, 'phi3');
    expect(e.MODEL_PATH).toBe(`/models/models--microsoft--Phi-3-medium-128k-instruct/snapshots/${commit}`);
    expect(e).toMatchObject({ HF_HUB_CACHE: '/models', HF_HUB_OFFLINE: '1', PORT: '8000', HOST: '0.0.0.0', MODEL_NAME: 'phi3' });
  });

  it('without a download, name the repository, which the service resolves in HF_HUB_CACHE', () => {
    expect(env(renderFull(), 'phi3').MODEL_PATH).toBe('microsoft/Phi-3-medium-128k-instruct');
  });

  it('use a revision that is a commit as it is', () => {
    const commit = 'b'.repeat(40);
    const config = makeConfig({ llm: { models: [{ name: 'phi3', repo: 'microsoft/Phi-3-medium-128k-instruct', revision: commit }] } });
    expect(env(renderFull(config), 'phi3').MODEL_PATH).toBe(`/models/models--microsoft--Phi-3-medium-128k-instruct/snapshots/${commit}`);
  });
});

describe('models on disk and start', () => {
  let dir = '';
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('reads the commit of a downloaded model and resolves its files through the snapshot links', async () => {
    dir = await mkdtemp(join(tmpdir(), 'msting-models-'));
    const config = makeConfig();
    const commit = await layOutModel(dir, 'microsoft/Phi-3-medium-128k-instruct', 'main', { 'config.json': '{"model_type":"phi3"}', 'model.safetensors': 'weights' });
    const commits = await readModelCommits(dir, config.llm.models);
    expect(commits.get('phi3')).toBe(commit);
    const plan = planStack(config, cpuRecommendation(config), 'full', { modelsDir: dir, modelCommits: commits });
    const inContainer = plan.services.find((s) => s.name === 'phi3')!.model!.path;
    const onHost = join(dir, inContainer.replace(/^\/models\//, ''));
    expect(await readlink(join(onHost, 'config.json'))).toMatch(/^\.\.\/\.\.\/blobs\//);
    expect(await readFile(await realpath(join(onHost, 'config.json')), 'utf8')).toBe('{"model_type":"phi3"}');
  });

  it('refuses to start a model that is not downloaded, naming it and the command that fetches it (exit 4)', async () => {
    dir = await mkdtemp(join(tmpdir(), 'msting-models-'));
    const config = makeConfig();
    const plan = planStack(config, cpuRecommendation(config), 'full', { modelsDir: dir });
    const err = await modelsOrThrow(plan, config, dir, planStart(plan, [])).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MstingError);
    const e = err as MstingError;
    expect(e.exitCode).toBe(4);
    expect(e.message).toBe('model phi3 is not downloaded; nothing was started');
    expect(e.hint).toContain('msting models download phi3');
    // Downloaded: nothing to refuse; and a start of other services never looks at models.
    await layOutModel(dir, 'microsoft/Phi-3-medium-128k-instruct', 'main', { 'config.json': '{}' });
    await expect(modelsOrThrow(plan, config, dir, planStart(plan, []))).resolves.toBeUndefined();
  });
});

describe('observability', () => {
  const config = makeConfig({ project: { name: 'sting-two' } });
  const stack = renderStack({ config, profile: 'observability', recommendation: cpuRecommendation(config), secrets: FAKE_SECRETS, modelsDir: '/m' });
  const file = (p: string) => stack.files.get(`compose/config/${p}`)!.content;

  it('Promtail is not published and keeps only the lines of this project', () => {
    const c = parse(stack.files.get('compose/docker-compose.yml')!.content) as Compose;
    expect(c.services.promtail!.ports).toBeUndefined();
    const promtail = parse(file('promtail/promtail.yml')) as { scrape_configs: { pipeline_stages: Record<string, Record<string, unknown>>[] }[] };
    const stages = promtail.scrape_configs[0]!.pipeline_stages;
    expect(stages[0]!.json!.expressions).toMatchObject({ project: 'attrs."com.docker.compose.project"' });
    expect(stages).toContainEqual({ match: { selector: '{project!="sting-two"}', action: 'drop', drop_counter_reason: 'other_project' } });
    const logging = (parse(stack.files.get('compose/docker-compose.yml')!.content) as { services: Record<string, { logging: { options: { labels: string } } }> }).services;
    for (const [name, s] of Object.entries(logging)) expect(s.logging.options.labels, name).toContain('com.docker.compose.project');
  });

  it('Loki keeps logs 168 h unless config says otherwise', () => {
    expect(parse(file('loki/loki.yml')).limits_config.retention_period).toBe('168h');
  });

  it('provisions the dashboards from files, each querying this project in Loki', () => {
    const provider = parse(file('grafana/provisioning/dashboards/msting.yml')) as { providers: { options: { path: string } }[] };
    expect(provider.providers[0]!.options.path).toBe('/etc/grafana/provisioning/dashboards/sting-ce');
    for (const uid of GRAFANA_DASHBOARDS) {
      const board = JSON.parse(file(`grafana/provisioning/dashboards/sting-ce/${uid}.json`)) as { uid: string; panels: { targets: { expr: string; datasource: { uid: string } }[] }[] };
      expect(board.uid).toBe(uid);
      for (const panel of board.panels) {
        for (const t of panel.targets) {
          expect(t.datasource.uid).toBe('loki');
          expect(t.expr).toContain('project="sting-two"');
        }
      }
    }
    const auth = file('grafana/provisioning/dashboards/sting-ce/sting-auth.json');
    expect(auth).toContain('service=\\"kratos\\"');
    expect(file('log-forwarder/promtail.yml')).toContain('/var/log/msting/msting.log');
  });
});
