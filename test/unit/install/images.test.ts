import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildRecipe, LLM_BASE_RECIPE, planImages, recipePaths, unbuildableError } from '../../../src/install/images.js';
import { planStack } from '../../../src/stack/plan.js';
import { cpuRecommendation, makeConfig } from '../render/fixtures.js';

const withTree = makeConfig({ images: { source_dir: '/src/STING' } });

function gpuRecommendation() {
  const config = makeConfig();
  return {
    ...cpuRecommendation(config),
    models: config.llm.models.map((m) => ({ name: m.name, fits: true, precision: 'int8' as const, requiredBytes: 1, memoryLimit: '8g', quantization: 'none' as const, reason: 'fits' })),
  };
}

function fullPlan(config = withTree) {
  return planStack(config, gpuRecommendation(), 'full', { modelsDir: '/opt/models' });
}

describe('building STING-CE images from a source tree', () => {
  it('uses the Dockerfiles and contexts of STING-CE docker-compose.yml', () => {
    const recipes = Object.fromEntries(fullPlan().services.map((s) => [s.name, buildRecipe(s)]));
    expect(recipes.app).toMatchObject({ context: '.', dockerfile: 'app/Dockerfile.app' });
    expect(recipes.frontend).toMatchObject({ context: 'frontend', dockerfile: 'frontend/Dockerfile.react-nginx' });
    expect(recipes.chatbot).toMatchObject({ context: '.', dockerfile: 'chatbot/Dockerfile' });
    expect(recipes.messaging).toMatchObject({ context: 'messaging_service', dockerfile: 'messaging_service/Dockerfile' });
    expect(recipes.knowledge).toMatchObject({ context: 'knowledge_service', dockerfile: 'knowledge_service/Dockerfile' });
    expect(buildRecipe({ name: 'external-ai', group: 'core', model: null })).toMatchObject({ context: '.', dockerfile: 'external_ai_service/Dockerfile' });
    // Model services: one Dockerfile on the LLM base image, the model named by a build argument.
    expect(recipes.phi3).toEqual({ context: 'llm_service', dockerfile: 'llm_service/Dockerfile.llm', args: { MODEL_NAME: 'phi3' }, base: 'llm-base' });
    // Stock images are pulled, never built.
    for (const stock of ['vault', 'db', 'kratos', 'redis', 'llm-gateway', 'grafana']) expect(recipes[stock], stock).toBeUndefined();
  });

  it('builds every STING-CE image of the profile, the LLM base first, and pulls the stock ones', () => {
    const images = planImages(withTree, fullPlan(), new Set(), false);
    const built = images.actions.filter((a) => a.action === 'build').map((a) => a.service);
    expect(built).toEqual(expect.arrayContaining(['app', 'frontend', 'chatbot', 'messaging', 'knowledge', 'phi3']));
    expect(images.buildBase).toBe(true);
    expect(images.actions.find((a) => a.service === 'db')?.action).toBe('pull');
    expect(planImages(withTree, fullPlan(), new Set(), true).buildBase).toBe(false);
  });

  it('an image named in images.overrides is not built', () => {
    const config = makeConfig({ images: { source_dir: '/src/STING', overrides: { app: 'example.org/app:1' } } });
    expect(planImages(config, fullPlan(config), new Set(), false).actions.find((a) => a.service === 'app')?.action).toBe('pull');
  });

  it('a tree without llm_service/ cannot build the model services, and the error says what to set instead', () => {
    const images = planImages(withTree, fullPlan(), new Set(), false, (path) => !path.startsWith('llm_service'));
    const unbuildable = images.actions.filter((a) => a.action === 'unbuildable').map((a) => a.service);
    expect(unbuildable).toEqual(['llama3', 'phi3', 'zephyr'].filter((m) => fullPlan().services.some((s) => s.name === m)));
    expect(unbuildable.length).toBeGreaterThan(0);
    const err = unbuildableError(images.actions, '/src/STING')!;
    expect(err.message).toMatch(/images\.source_dir \(\/src\/STING\) cannot build .*phi3.*: the tree has no llm_service\/Dockerfile\.llm/);
    expect(err.hint).toMatch(/images\.overrides\.phi3/);
    expect(err.hint).toMatch(/llm_service\/ from STING-CE's first public commit/);
    expect(unbuildableError(planImages(withTree, fullPlan(), new Set(), false).actions, '/src/STING')).toBeNull();
  });

  it.skipIf(!process.env.STING_CE_SRC)('every recipe path exists in the real STING-CE tree (STING_CE_SRC)', () => {
    const root = join(process.env.STING_CE_SRC!, 'STING');
    const services = [...fullPlan().services, { name: 'external-ai', group: 'core' as const, model: null }];
    const paths = [...new Set(services.flatMap((s) => (buildRecipe(s) ? recipePaths(buildRecipe(s)!) : [])))];
    expect(paths).toEqual(expect.arrayContaining([LLM_BASE_RECIPE.dockerfile, 'app/Dockerfile.app', 'external_ai_service/Dockerfile']));
    expect(paths.filter((p) => !existsSync(join(root, p)))).toEqual([]);
  });
});
