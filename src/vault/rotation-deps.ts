import type { Context } from '../context.js';
import { installLayout } from '../layout.js';
import type { RotationDeps } from './keys.js';
import { fileExists } from './store.js';

/**
 * The real re-render and restart behind `encryption-keys rotate`, through the render and Docker
 * adapters. Only services that are running are restarted (a stopped one reads the new value when
 * it next starts); each is recreated so it reads its new env file, then started again.
 */
export function createRotationDeps(ctx: Context): RotationDeps {
  return {
    rerender: async () => {
      const [{ loadValidatedConfig }, { renderForStart }, { renderSecretsFromVault }, { resolveProfileServices }, { cpuFallbackRecommendation }] = await Promise.all([
        import('../lifecycle/config-cache.js'),
        import('../lifecycle/render-step.js'),
        import('./render-secrets.js'),
        import('../stack/plan.js'),
        import('../hardware/types.js'),
      ]);
      // What `config render` does, without its report: this command prints its own.
      const { config } = await loadValidatedConfig(ctx, undefined);
      const runsModels = resolveProfileServices(config, config.profile).includes('llm-gateway');
      const recommendation = runsModels ? await (await import('../hardware/snapshot.js')).machineRecommendation(config, ctx.home, ctx.env) : cpuFallbackRecommendation([]);
      await renderForStart({
        config,
        profile: config.profile,
        home: ctx.home,
        output: ctx.home,
        env: ctx.env,
        recommendation,
        secrets: await renderSecretsFromVault(config, ctx),
        signal: ctx.signal,
      });
    },
    restart: async (services) => {
      const [{ loadConfig }, { createDockerEngine }, { createComposeCli }] = await Promise.all([
        import('../config/load.js'),
        import('../docker/engine.js'),
        import('../docker/compose-cli.js'),
      ]);
      const { config } = await loadConfig({ configPath: ctx.configPath, configExplicit: ctx.configExplicit, env: ctx.env });
      const layout = installLayout(ctx.home);
      const engine = createDockerEngine(ctx.env);
      const project = config.project.name;
      const running = (await engine.listContainers(project)).filter((c) => services.includes(c.service) && c.state === 'running');
      const targets = [...new Set(running.map((c) => c.service))];
      if (targets.length === 0) return;
      const files = [layout.composeFile, ...((await fileExists(layout.composeOverrideFile)) ? [layout.composeOverrideFile] : [])];
      const compose = createComposeCli(ctx.env, layout.composeDir);
      await compose.create({ name: project, files, profile: config.profile }, targets, { signal: ctx.signal });
      for (const c of await engine.listContainers(project)) {
        if (targets.includes(c.service) && c.state !== 'running') await engine.startContainer(c.id);
      }
    },
  };
}
