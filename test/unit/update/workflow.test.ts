import { mkdir, mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cpuFallbackRecommendation } from '../../../src/hardware/types.js';
import type { DockerEngine } from '../../../src/docker/engine.js';
import type { ComposeCli } from '../../../src/docker/compose-cli.js';
import { registryError } from '../../../src/docker/registry-errors.js';
import { runUpdate, type UpdateAdapters } from '../../../src/update/workflow.js';
import { makeConfig } from '../lifecycle/helpers.js';

/** Adapters that refuse everything a plan-only update must not do. */
function fakeAdapters(calls: string[]): UpdateAdapters {
  const refuse = (what: string) => async () => {
    calls.push(what);
    throw new Error(`${what} must not run for --plan`);
  };
  return {
    engine: {} as DockerEngine,
    compose: {} as ComposeCli,
    imageId: async (reference) => `sha256:${reference.length}`,
    runningServices: async () => [],
    recommendation: async (config) => cpuFallbackRecommendation(config.llm.models),
    secrets: async () => ({ get: () => 'x', resolveRef: () => undefined }),
    build: refuse('build'),
    pull: refuse('pull'),
    retag: refuse('retag'),
    backup: refuse('backup'),
    guards: refuse('guards'),
  };
}

describe('the update workflow with fake adapters', () => {
  it('plans every service of a stack that is not running, and changes nothing with --plan', async () => {
    const home = await mkdtemp(join(tmpdir(), 'msting-update-'));
    const calls: string[] = [];
    const plans: string[][] = [];
    const result = await runUpdate(
      { config: makeConfig(), home, env: {}, signal: new AbortController().signal, services: [], planOnly: true, backup: true, timeoutS: 5 },
      fakeAdapters(calls),
      { onInfo: () => undefined, onDebug: () => undefined, onPlan: (plan) => plans.push(plan.changes.map((c) => c.service)), onServiceState: () => undefined },
    );
    expect(result.kind).toBe('planned');
    expect(plans).toHaveLength(1);
    expect(plans[0]).toContain('db');
    expect(result.plan.changes.find((c) => c.service === 'db')?.reasons).toEqual(['missing']);
    expect(calls).toEqual([]);
    // Nothing was written into the install directory.
    expect(await readdir(home)).toEqual([]);
  });

  it('with --bundle, loads the bundle instead of building or pulling anything', async () => {
    const home = await mkdtemp(join(tmpdir(), 'msting-update-'));
    const calls: string[] = [];
    const adapters = fakeAdapters(calls);
    adapters.bundle = {
      file: '/media/sting.tar',
      config: '',
      manifest: { format: 'msting-bundle', formatVersion: 1, created: '2025-01-01T00:00:00.000Z', msting: { version: '0.1.0' }, profile: 'default', images: [], models: [], package: 'msting-0.1.0.tgz', entries: [] },
      load: async () => {
        calls.push('bundle-load');
        return { images: ['postgres:16'], models: [] };
      },
    };
    const info: string[] = [];
    // The fake guards refuse: the run stops there, after the images step this test is about.
    await expect(
      runUpdate(
        { config: makeConfig(), home, env: {}, signal: new AbortController().signal, services: [], planOnly: false, backup: false, timeoutS: 5 },
        adapters,
        { onInfo: (m) => info.push(m), onDebug: () => undefined, onPlan: () => undefined, onServiceState: () => undefined },
      ),
    ).rejects.toThrow(/guards must not run/);
    expect(calls).toEqual(['bundle-load', 'guards']);
    expect(info[0]).toBe('loading the images of /media/sting.tar');
  });
});

describe('update when images cannot be pulled', () => {
  const refused = 'Get "http://127.0.0.1:9/v2/": dial tcp 127.0.0.1:9: connect: connection refused';

  async function updateWith(config: ReturnType<typeof makeConfig>, failing: (services: string[], images: Readonly<Record<string, string>>) => { service: string; reference: string }[]) {
    const home = await mkdtemp(join(tmpdir(), 'msting-update-'));
    await mkdir(join(home, 'compose'));
    const calls: string[] = [];
    const info: string[] = [];
    const adapters: UpdateAdapters = {
      ...fakeAdapters(calls),
      imageId: async (reference) => (reference.startsWith('127.0.0.1:9/') ? null : `sha256:${reference.length}`),
      pull: async (_project, services, images) =>
        failing(services, images).map((f) => ({ ...f, text: refused, error: registryError({ action: 'pull', reference: f.reference, service: f.service, text: refused }) })),
    };
    const run = runUpdate(
      { config, home, env: {}, signal: new AbortController().signal, services: [], planOnly: false, backup: true, timeoutS: 5 },
      adapters,
      { onInfo: (m) => info.push(m), onDebug: () => undefined, onPlan: () => calls.push('plan'), onServiceState: () => undefined },
    );
    return { run, calls, info, home };
  }

  it('stops before planning, backing up or writing when images.registry does not answer', async () => {
    const config = makeConfig({ images: { registry: '127.0.0.1:9/sting', version: 'v1' } });
    const { run, calls, home } = await updateWith(config, (services, images) => services.filter((s) => images[s]!.startsWith('127.0.0.1:9/')).map((s) => ({ service: s, reference: images[s]! })));
    await expect(run).rejects.toMatchObject({ exitCode: 5, message: expect.stringMatching(/^cannot pull 127\.0\.0\.1:9\/sting\/sting-ce-\S+ \(\S+\): the registry 127\.0\.0\.1:9 does not answer \(and \d+ more images\)$/) });
    await expect(run).rejects.toMatchObject({ hint: expect.stringMatching(/^check images\.registry in config\.yml .*; nothing was changed$/) });
    expect(calls).toEqual([]);
    expect((await readdir(home)).sort()).toEqual(['compose', 'logs']);
    expect(await readdir(join(home, 'compose'))).toEqual([]);
  });

  it('keeps the local copy of an image named in images.overrides that this host has', async () => {
    const config = makeConfig({ images: { overrides: { mailpit: 'mirror.example.com/mailpit:1' } } });
    const { run, calls, info } = await updateWith(config, () => [{ service: 'mailpit', reference: 'mirror.example.com/mailpit:1' }]);
    // It goes on to the plan and the backup (the fake refuses the backup).
    await expect(run).rejects.toThrow(/backup must not run/);
    expect(calls).toEqual(['plan', 'backup']);
    expect(info).toContain('mailpit: no newer image could be pulled (no registry access?); the local copies are used');
  });
});
