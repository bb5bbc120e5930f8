import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { PORT_KEYS } from '../../../src/stack/names.js';
import { layOutModel } from '../../support/model-cache.js';
import { describeDocker, freePortBlock, msting, projectResources, removeProject, testImages, uniqueProject } from '../../support/docker.js';

/**
 * `msting start --profile full` (the built CLI, a real engine) on an install whose model is not
 * downloaded: exit 4 before anything is created, naming the model and the command that fetches
 * it. Host ports 21320-21339.
 */

const BASE_PORT = await freePortBlock(PORT_KEYS.length);
const REPO = 'msting-test/tiny-chat';

describeDocker('start with a model that is not downloaded', () => {
  let work = '';
  let home = '';
  let models = '';
  let project = '';

  beforeAll(async () => {
    const images = testImages();
    project = uniqueProject('msting-it-nomodel');
    work = await mkdtemp(join(tmpdir(), 'msting-it-nomodel-'));
    home = join(work, 'home');
    models = join(work, 'models');
    await mkdir(join(home, 'conf'), { recursive: true });
    await mkdir(join(home, 'secrets'), { recursive: true, mode: 0o700 });
    await mkdir(join(home, 'certs'), { recursive: true });
    await mkdir(models, { recursive: true });
    // What install leaves besides the models: the app's Vault token and the certificates folder.
    await writeFile(join(home, 'secrets', 'vault-token-app'), 'not-a-real-token\n', { mode: 0o600 });
    await writeFile(
      join(home, 'conf', 'config.yml'),
      stringify({
        project: { name: project },
        llm: { models: [{ name: 'tiny', repo: REPO, parameters_b: 0.01 }], default_model: 'tiny' },
        images: { overrides: Object.fromEntries(['vault', 'db', 'redis', 'kratos-migrate', 'kratos', 'mailpit', 'app', 'frontend', 'chroma', 'knowledge', 'messaging', 'llm-gateway', 'chatbot', 'loki', 'promtail', 'grafana', 'log-forwarder', 'tiny'].map((s) => [s, images.busybox])) },
        ports: Object.fromEntries(PORT_KEYS.map((key, i) => [key, BASE_PORT + i])),
      }),
    );
  }, 60_000);

  afterAll(async () => {
    if (project) await removeProject(project);
    if (work) await rm(work, { recursive: true, force: true });
  }, 60_000);

  it('exits 4 naming the model and `msting models download`, and creates nothing', async () => {
    const env = { STING_MODELS_DIR: models };
    const r = await msting(['--home', home, 'start', '--profile', 'full'], { env });
    expect(r.stderr).toContain('model tiny is not downloaded; nothing was started');
    expect(r.stderr).toContain(`tiny (${REPO}@main, for tiny): not in ${models}`);
    expect(r.stderr).toContain('msting models download tiny');
    expect(r.code).toBe(4);
    expect((await projectResources(project)).containers).toEqual([]);

    // Downloaded: the model check passes (what stops start now is no longer the model).
    await layOutModel(models, REPO, 'main', { 'config.json': '{}' });
    const json = await msting(['--home', home, '--json', 'start', '--profile', 'full', '--timeout', '5', 'tiny'], { env });
    expect(json.stdout + json.stderr).not.toContain('not downloaded');
    // It went on to start the model service (the stand-in is slower to report healthy than --timeout).
    expect(json.code).not.toBe(4);
    expect(json.stdout).toMatch(/"service":"tiny"/);
  }, 240_000);
});
