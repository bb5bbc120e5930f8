import { describe, expect, it } from 'vitest';
import { imageRows } from '../../../src/images/list.js';
import { executePush, planPush, type PushItem } from '../../../src/images/push.js';
import { planStack, registryImageName } from '../../../src/stack/plan.js';
import { cpuRecommendation, makeConfig } from '../render/fixtures.js';

function plan(config = makeConfig({ images: { registry: 'ghcr.io/alphabytez', version: '1.4.0' } }), profile = 'default') {
  return planStack(config, cpuRecommendation(config), profile, { modelsDir: '/opt/models' });
}

describe('images push: the names other hosts pull', () => {
  it('maps each STING-CE image of the profile to <registry>/sting-ce-<service>:<version>, stock images left out', () => {
    const config = makeConfig({ images: { version: '1.4.0', overrides: { app: 'local/app-build:dev' }, digests: { frontend: `sha256:${'f'.repeat(64)}` } } });
    const items = planPush(config, plan(config), 'registry.example.com:5000/sting/');
    expect([...items].sort((a, b) => a.service.localeCompare(b.service))).toEqual([
      { service: 'app', source: 'local/app-build:dev', target: 'registry.example.com:5000/sting/sting-ce-app:1.4.0' },
      { service: 'frontend', source: `ghcr.io/alphabytez/sting-ce-frontend:1.4.0@sha256:${'f'.repeat(64)}`, target: 'registry.example.com:5000/sting/sting-ce-frontend:1.4.0' },
      { service: 'knowledge', source: 'ghcr.io/alphabytez/sting-ce-knowledge:1.4.0', target: 'registry.example.com:5000/sting/sting-ce-knowledge:1.4.0' },
      { service: 'messaging', source: 'ghcr.io/alphabytez/sting-ce-messaging:1.4.0', target: 'registry.example.com:5000/sting/sting-ce-messaging:1.4.0' },
    ]);
  });

  it('uses the same names as a host whose images.registry is that registry plans', () => {
    const target = 'registry.example.com:5000/sting';
    const pulling = makeConfig({ images: { registry: target, version: '1.4.0' } });
    const pulled = new Map(plan(pulling).services.map((s) => [s.name, s.image]));
    for (const item of planPush(makeConfig({ images: { version: '1.4.0' } }), plan(), target)) expect(item.target).toBe(pulled.get(item.service));
    expect(registryImageName(target, '2', 'db')).toBeUndefined();
    expect(registryImageName(target, '2', 'phi3', true)).toBe('registry.example.com:5000/sting/sting-ce-llm-phi3:2');
  });

  it('refuses before pushing anything when an image is not on this host', async () => {
    const items: PushItem[] = [
      { service: 'app', source: 'a:1', target: 'r/sting-ce-app:1' },
      { service: 'frontend', source: 'f:1', target: 'r/sting-ce-frontend:1' },
    ];
    const pushed: string[] = [];
    const run = executePush(items, { imagePresent: async (ref) => ref === 'a:1', push: async (i) => (pushed.push(i.target), { digest: null }) }, { onImage: () => undefined, onLine: () => undefined }, new AbortController().signal);
    await expect(run).rejects.toMatchObject({ message: '1 of the profile\'s images is not on this host, so nothing was pushed', details: ['frontend: f:1'] });
    expect(pushed).toEqual([]);
  });

  it('pushes each image in turn and reports its digest', async () => {
    const states: string[] = [];
    const result = await executePush(
      [{ service: 'app', source: 'a:1', target: 'r/sting-ce-app:1' }],
      { imagePresent: async () => true, push: async () => ({ digest: `sha256:${'1'.repeat(64)}` }) },
      { onImage: (i, s, d) => states.push(`${i.service} ${s}${d ? ` ${d.slice(0, 9)}` : ''}`), onLine: () => undefined },
      new AbortController().signal,
    );
    expect(states).toEqual(['app pushing', 'app pushed sha256:11']);
    expect(result[0]!.digest).toBe(`sha256:${'1'.repeat(64)}`);
  });
});

describe('images list', () => {
  it('says per service whether the image is here, its id, the digest it came by, and a pin', () => {
    const pin = `sha256:${'c'.repeat(64)}`;
    const config = makeConfig({ images: { registry: '127.0.0.1:5000/sting', version: 'v1', digests: { knowledge: pin } } });
    const p = { services: plan(config).services.filter((s) => ['messaging', 'knowledge'].includes(s.name)) };
    const rows = imageRows({ services: [...p.services].sort((a, b) => a.name.localeCompare(b.name)) }, new Map([['127.0.0.1:5000/sting/sting-ce-messaging:v1', { id: 'sha256:abc', repoDigests: [`other/x@sha256:${'0'.repeat(64)}`, `127.0.0.1:5000/sting/sting-ce-messaging@sha256:${'d'.repeat(64)}`] }]]));
    expect(rows).toEqual([
      { service: 'knowledge', image: `127.0.0.1:5000/sting/sting-ce-knowledge:v1@${pin}`, present: false, id: null, digest: null, pinned: pin },
      { service: 'messaging', image: '127.0.0.1:5000/sting/sting-ce-messaging:v1', present: true, id: 'sha256:abc', digest: `sha256:${'d'.repeat(64)}`, pinned: null },
    ]);
  });
});
