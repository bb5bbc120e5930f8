import type { Context } from '../context.js';
import { createSwarmEngine } from '../docker/swarm.js';
import { MstingError } from '../errors.js';
import type { SwarmStartDeps } from './start.js';

/** The real adapters of a swarm start: the engine, Vault's secrets, and the Vault step (unseal). */
export function swarmStartDeps(ctx: Pick<Context, 'home' | 'env' | 'signal' | 'out'>): SwarmStartDeps {
  return {
    swarm: createSwarmEngine(ctx.env),
    secrets: async (stack) => {
      const { renderSecretsFromVault } = await import('../vault/render-secrets.js');
      return renderSecretsFromVault(stack.config, { home: ctx.home, env: ctx.env }, (reason) => ctx.out.debug(`Vault secrets not read: ${reason}`));
    },
    unsealVault: async (stack) => {
      const [{ bringUpVault }, { isVaultError }] = await Promise.all([import('../vault/lifecycle.js'), import('../vault/client.js')]);
      try {
        const r = await bringUpVault({ config: stack.config, home: ctx.home, env: ctx.env, signal: ctx.signal, bootstrap: false, onMessage: (m) => ctx.out.info(`vault: ${m}`) });
        for (const w of r.warnings) ctx.out.warn(w);
      } catch (err) {
        if (isVaultError(err, 'uninitialized')) {
          throw new MstingError('EXTERNAL', 'Vault runs in the swarm but is not initialized; only Vault was deployed', {
            hint: 'run `msting vault init`, then `msting start` again',
          });
        }
        throw err;
      }
    },
  };
}
