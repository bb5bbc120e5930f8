import type { Context } from '../context.js';
import { ExitCode } from '../errors.js';
import { readStoredShares } from '../vault/store.js';
import { DEV_MODE_WARNING, openVaultForCommand } from '../vault/session.js';
import { describeVaultStatus, findVaultContainer, vaultStatus, withContainerState, type VaultStatus } from '../vault/status.js';

export type VaultStatusOptions = Record<string, never>;

/** What `vault status --json` prints. */
export interface VaultStatusJson {
  vault: VaultStatus & { mode: 'server' | 'dev'; sharesStored: boolean; autoUnseal: boolean };
}

/**
 * `msting vault status`: uninitialized, sealed (with progress), unsealed, starting or unreachable.
 * Exit 0 when unsealed, 1 when sealed, not initialized or starting, 5 when Vault does not answer.
 */
export async function run(_options: VaultStatusOptions, ctx: Context): Promise<number> {
  const { session, config } = await openVaultForCommand(ctx);
  if (config.vault.mode === 'dev') ctx.out.warn(DEV_MODE_WARNING);
  let status = await vaultStatus(session.client);
  // Silent: the install's own vault container tells starting from unreachable (another Vault's cannot).
  if (status.state === 'unreachable' && !session.foreignAddress) {
    const { createDockerEngine } = await import('../docker/engine.js');
    status = withContainerState(status, await findVaultContainer(createDockerEngine(ctx.env), config.project.name));
  }
  const sharesStored = (await readStoredShares(session.secretsDir)) !== undefined;
  const doc: VaultStatusJson = {
    vault: { ...status, mode: config.vault.mode, sharesStored, autoUnseal: sharesStored && config.vault.auto_unseal },
  };
  if (ctx.out.json) ctx.out.result(doc);
  else {
    ctx.out.print(`vault: ${describeVaultStatus(status)}`);
    ctx.out.print(`  address: ${status.address}`);
    if (status.version) ctx.out.print(`  version: ${status.version}`);
    if (status.threshold !== null) ctx.out.print(`  shares: ${status.shares}, threshold ${status.threshold}`);
    ctx.out.print(`  unseal shares on this host: ${sharesStored ? 'yes' : 'no'}${sharesStored && config.vault.auto_unseal ? ' (start unseals automatically)' : ''}`);
    if (status.state === 'unreachable' && status.error) ctx.out.info(`hint: is it running? \`msting start vault\`, then \`msting vault status\``);
    if (status.state === 'starting') ctx.out.info('next: wait a few seconds, then `msting vault status` again');
    if (status.state === 'uninitialized') ctx.out.info('next: `msting vault init`');
    if (status.state === 'sealed') ctx.out.info('next: `msting unseal`');
  }
  if (status.state === 'unsealed') return ExitCode.ok;
  if (status.state === 'unreachable') return ExitCode.external;
  return ExitCode.failure;
}
