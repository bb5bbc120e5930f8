import type { MstingConfig } from '../config/schema.js';
import type { Recommendation } from '../hardware/types.js';
import type { SecretsProvider } from '../stack/secrets.js';
import { formatBytes } from '../bytes.js';
import type { AuditRotation } from '../vault/audit-log.js';
import type { BringUpVaultInput, BringUpVaultResult } from '../vault/lifecycle.js';
import { renderForStart, type RenderStepResult } from './render-step.js';
import type { StartHooks } from './start.js';

/**
 * The Vault step inside `start` (and `restart`, `restore`): once the vault service is up, unseal
 * it (waiting until it serves), render again with the secrets it holds, and report the files that
 * changed so the start executor recreates the services not started yet. A sealed Vault that
 * cannot be unsealed here stops the start before anything that depends on it (exit 5). An
 * unsealed Vault's audit log is rotated when it has grown too large: start is what runs regularly
 * against a running Vault, and Vault never rotates the file itself.
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
  /** Rotate Vault's audit log when it is too large; null when no vault container runs. Absent: not rotated. */
  rotateAuditLog?(config: MstingConfig, env: NodeJS.ProcessEnv): Promise<AuditRotation | null>;
}

export const defaultVaultStepDeps: VaultStepDeps = {
  bringUp: async (input) => (await import('../vault/lifecycle.js')).bringUpVault(input),
  secrets: async (config, ctx, onUnavailable) => (await import('../vault/render-secrets.js')).renderSecretsFromVault(config, ctx, onUnavailable),
  render: renderForStart,
  rotateAuditLog: async (config, env) => {
    const [{ createDockerEngine }, { createContainerExec }, { rotateVaultAuditLog, runningVaultContainer }] = await Promise.all([
      import('../docker/engine.js'),
      import('../docker/container-exec.js'),
      import('../vault/audit-log.js'),
    ]);
    const engine = createDockerEngine(env);
    const vault = runningVaultContainer(await engine.listContainers(config.project.name), engine, createContainerExec(env));
    return vault ? rotateVaultAuditLog(vault) : null;
  },
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
      if (r.status.state === 'unsealed' && deps.rotateAuditLog) {
        // Best effort: an audit log that could not be rotated is worth a warning, never a failed start.
        try {
          const rotation = await deps.rotateAuditLog(input.config, input.env);
          if (rotation?.rotated) input.onMessage?.(`Vault's audit log rotated at ${formatBytes(rotation.sizeBytes)} (${rotation.file}.1 … .${rotation.kept.length} kept)`);
        } catch (err) {
          input.onWarning?.(`Vault's audit log was not rotated: ${(err as Error).message}`);
        }
      }
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
