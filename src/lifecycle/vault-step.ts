import type { MstingConfig } from '../config/schema.js';
import type { Recommendation } from '../hardware/types.js';
import type { SecretsProvider } from '../stack/secrets.js';
import type { BringUpVaultInput, BringUpVaultResult } from '../vault/lifecycle.js';
import { renderForStart, type RenderStepResult } from './render-step.js';
import type { StartHooks } from './start.js';

/**
 * The Vault step inside `start` (and `restart`, `restore`): once the vault service is up, unseal
 * it (waiting until it serves), render again with the secrets it holds, and report the files that
 * changed so the start executor recreates the services not started yet. A sealed Vault that
 * cannot be unsealed here stops the start before anything that depends on it (exit 5).
 */

export interface VaultStepInput {
  config: MstingConfig;
  profile: string;
  home: string;
  env: NodeJS.ProcessEnv;
  signal: AbortSignal;
  recommendation: Recommendation;
  onMessage?: (message: string) => void;
  onWarning?: (message: string) => void;
  onRendered?: (result: RenderStepResult) => void;
}

/** The outside calls the step makes, replaceable in tests. */
export interface VaultStepDeps {
  bringUp(input: BringUpVaultInput): Promise<BringUpVaultResult>;
  secrets(config: MstingConfig, ctx: { home: string; env: NodeJS.ProcessEnv }, onUnavailable: (reason: string) => void): Promise<SecretsProvider>;
  render: typeof renderForStart;
}

export const defaultVaultStepDeps: VaultStepDeps = {
  bringUp: async (input) => (await import('../vault/lifecycle.js')).bringUpVault(input),
  secrets: async (config, ctx, onUnavailable) => (await import('../vault/render-secrets.js')).renderSecretsFromVault(config, ctx, onUnavailable),
  render: renderForStart,
};

export function vaultStartHooks(input: VaultStepInput, deps: VaultStepDeps = defaultVaultStepDeps): StartHooks {
  return {
    async afterService(service) {
      if (service !== 'vault') return;
      const r = await deps.bringUp({
        config: input.config,
        home: input.home,
        env: input.env,
        signal: input.signal,
        bootstrap: false,
        onMessage: (m) => input.onMessage?.(m),
        onProgress: (p) => input.onMessage?.(p.sealed ? `unseal progress ${p.progress} of ${p.threshold}` : 'Vault unsealed'),
      });
      for (const w of r.warnings) input.onWarning?.(w);
      input.onMessage?.(`Vault is ${r.status.state}${r.bootstrapped ? ` (bootstrapped: ${r.secretsCreated.length} secrets generated)` : ''}`);
      const secrets = await deps.secrets(input.config, { home: input.home, env: input.env }, (reason) =>
        input.onWarning?.(`Vault is unsealed but its secrets could not be read: ${reason}; the env files that hold them were kept`),
      );
      const rendered = await deps.render({
        config: input.config,
        profile: input.profile,
        home: input.home,
        env: input.env,
        recommendation: input.recommendation,
        secrets,
        signal: input.signal,
      });
      input.onRendered?.(rendered);
      return { changedFiles: [...rendered.report.written, ...rendered.report.removed] };
    },
  };
}
