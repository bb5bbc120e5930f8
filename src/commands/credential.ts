import type { Context } from '../context.js';
import { MstingError } from '../errors.js';
import { UI_CREDENTIALS, isUiCredentialName, readUiCredential } from '../vault/credentials.js';
import { maskSecret } from '../vault/providers.js';
import { DEV_MODE_WARNING, managementClient, openVaultForCommand } from '../vault/session.js';

export interface CredentialOptions {
  name: string;
}

/**
 * `msting credential grafana|mailpit`: the user and password of a web UI whose password msting
 * generated into Vault. The password goes to a terminal only: under --json it is masked, so it
 * never lands in a script's captured output or a log.
 */
export async function run(options: CredentialOptions, ctx: Context): Promise<number> {
  if (!isUiCredentialName(options.name)) {
    throw new MstingError('USAGE', `no credential named ${JSON.stringify(options.name.slice(0, 60))}`, {
      hint: `msting credential ${Object.keys(UI_CREDENTIALS).join('|')}`,
    });
  }
  const { session, config } = await openVaultForCommand(ctx);
  if (config.vault.mode === 'dev') ctx.out.warn(DEV_MODE_WARNING);
  const credential = await readUiCredential(await managementClient(session), options.name);
  if (credential.password === undefined) {
    throw new MstingError('VAULT', `Vault holds no ${options.name} password yet (${credential.vaultPath})`, {
      hint: '`msting install` (or `msting vault init`) generates it',
    });
  }
  if (ctx.out.json) {
    ctx.out.result({ name: credential.name, user: credential.user, password: maskSecret(credential.password), masked: true, vault_path: credential.vaultPath });
  } else {
    ctx.out.print(`${credential.where}`);
    ctx.out.print(`  user:     ${credential.user}`);
    ctx.out.print(`  password: ${credential.password}`);
  }
  return 0;
}
