import { Writable } from 'node:stream';
import type { Context } from '../context.js';
import { installLayout } from '../layout.js';
import { createOutput } from '../ui/output.js';
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
      const [{ run: renderRun, defaultDeps }, { renderSecretsFromVault }] = await Promise.all([
        import('../commands/config-render.js'),
        import('./render-secrets.js'),
      ]);
      // The render command's own logic, its report silenced: this command prints its own.
      const sink = new Writable({ write: (_chunk, _enc, done) => done() });
      const quiet: Context = { ...ctx, out: createOutput({ json: false, color: false, verbose: false }, { stdout: sink, stderr: sink }, ctx.env) };
      await renderRun({}, quiet, { ...defaultDeps, secrets: (config) => renderSecretsFromVault(config, ctx) });
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
