import { homedir } from 'node:os';
import type { MstingConfig } from '../config/schema.js';
import { createComposeCli } from '../docker/compose-cli.js';
import { createDockerEngine } from '../docker/engine.js';
import { modelsDir } from '../layout.js';
import type { InstallSystems } from './flow.js';

/** The real systems behind an install: Docker, the hardware probe, Vault, the model hub. Heavy modules load on first use. */
export function createInstallSystems(config: MstingConfig, home: string, env: NodeJS.ProcessEnv, signal: AbortSignal): InstallSystems {
  const engine = createDockerEngine(env);
  const compose = createComposeCli(env, home);
  const session = async () => (await import('../vault/session.js')).openVault({ config, home, env });
  return {
    engine,
    compose,
    async probeHardware() {
      // Install always probes afresh, and keeps the result for the commands that follow it.
      const [{ probeMachine, writeSnapshot }, { recommend }] = await Promise.all([import('../hardware/snapshot.js'), import('../hardware/recommend.js')]);
      const profile = await probeMachine(env);
      await writeSnapshot(home, profile);
      return { profile, recommendation: recommend(profile, config) };
    },
    vault: {
      async initAndUnseal(onMessage) {
        const { bringUpVault } = await import('../vault/lifecycle.js');
        // Waits until Vault answers (a moment after its container reports healthy), initializes
        // a new one, unseals, bootstraps, and waits until it serves.
        const r = await bringUpVault({ config, home, env, signal, bootstrap: true, onMessage });
        return { initializedNow: r.initializedNow, sharesPath: r.sharesPath, autoUnseal: r.autoUnseal, warnings: r.warnings };
      },
      async status() {
        const { vaultStatus } = await import('../vault/status.js');
        return vaultStatus((await session()).client);
      },
      async secrets(onUnavailable) {
        const { renderSecretsFromVault } = await import('../vault/render-secrets.js');
        return renderSecretsFromVault(config, { home, env }, onUnavailable);
      },
    },
    async downloadModels(onProgress) {
      const { downloadModels } = await import('../models/download.js');
      const results = await downloadModels({
        config,
        modelsDir: modelsDir(env, process.platform, homedir()),
        env,
        signal,
        ...(onProgress ? { onProgress } : {}),
        tokenProvider: async () => {
          const { openVault, managementClient } = await import('../vault/session.js');
          const { readProviderSecret } = await import('../vault/providers.js');
          const s = await openVault({ config, home, env, timeoutMs: 5000 });
          return readProviderSecret(await managementClient(s), 'huggingface');
        },
      });
      return results.map((r) => ({ name: r.name, fetched: r.fetched, size: r.size }));
    },
    async starterConfig() {
      const { starterConfig } = await import('../config/template.js');
      return starterConfig();
    },
  };
}
