import { resolve } from 'node:path';
import type { Context } from '../context.js';
import { ExitCode } from '../errors.js';
import { initVault, type InitVaultResult } from '../vault/init.js';
import { DEV_MODE_WARNING, openVaultForCommand } from '../vault/session.js';

export interface VaultInitOptions {
  /** Write the unseal shares to this file (for the operator to take away) instead of secrets/. */
  sharesFile?: string | undefined;
  keepRootToken?: boolean | undefined;
}

/**
 * `msting vault init`: initialize a running Vault (or finish an interrupted bootstrap), store or
 * hand over the shares, write policies and tokens, and generate every stack secret.
 */
export async function run(options: VaultInitOptions, ctx: Context): Promise<number> {
  const { session, config } = await openVaultForCommand(ctx);
  if (config.vault.mode === 'dev') ctx.out.warn(DEV_MODE_WARNING);
  const result: InitVaultResult = await initVault({
    client: session.client,
    settings: config.vault,
    secretsDir: session.secretsDir,
    sharesFile: options.sharesFile ? resolve(options.sharesFile) : undefined,
    keepRootToken: options.keepRootToken || undefined,
    token: session.tokenSource === 'VAULT_TOKEN' ? session.token : undefined,
    onStep: (step) => ctx.out.info(`  ${step.message}`),
    onProgress: (p) => ctx.out.debug(`  unseal progress ${p.progress} of ${p.threshold}`),
  });
  for (const warning of result.warnings) ctx.out.warn(warning);
  if (ctx.out.json) {
    ctx.out.result({ vault: result });
    return ExitCode.ok;
  }
  if (result.initializedNow && result.sharesPath && !result.autoUnseal && options.sharesFile) {
    ctx.out.warn(`the unseal shares are only in ${result.sharesPath}: move it off this host now; after each restart run \`msting unseal --shares-file FILE\``);
  }
  ctx.out.print(
    result.initializedNow
      ? `Vault initialized (${result.threshold} of ${result.shares} shares unseal it); ${result.secretsCreated.length} secrets generated`
      : `Vault was already initialized; ${result.secretsCreated.length} secrets generated, ${result.secretsExisting.length} kept`,
  );
  return ExitCode.ok;
}
