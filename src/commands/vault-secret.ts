import type { Context } from '../context.js';
import { ExitCode, MstingError } from '../errors.js';
import { promptHidden, readAll, type InputStream } from '../vault/input.js';
import {
  deleteProviderSecret,
  KNOWN_PROVIDERS,
  listProviderSecrets,
  maskSecret,
  MAX_SECRET_BYTES,
  providerPath,
  readProviderSecret,
  secretTooLarge,
  setProviderSecret,
} from '../vault/providers.js';
import { DEV_MODE_WARNING, managementClient, openVaultForCommand } from '../vault/session.js';

export type VaultSecretOptions =
  | { action: 'list' }
  | { action: 'set'; provider: string; value?: string | undefined }
  | { action: 'get'; provider: string; reveal?: boolean }
  | { action: 'delete'; provider: string };

export interface VaultSecretDeps {
  stdin: InputStream;
}

/**
 * `msting vault-secret list|set|get|delete`: provider API keys in Vault at sting/providers/<name>.
 * `set` reads the value from standard input (or a hidden prompt) so it stays out of shell history
 * and `ps`; a value given as an argument still works, with a warning.
 */
export async function run(options: VaultSecretOptions, ctx: Context, deps: VaultSecretDeps = { stdin: process.stdin }): Promise<number> {
  if (options.action !== 'list') providerPath(options.provider);
  const { session, config } = await openVaultForCommand(ctx);
  if (config.vault.mode === 'dev') ctx.out.warn(DEV_MODE_WARNING);
  const client = await managementClient(session);

  switch (options.action) {
    case 'list': {
      const providers = await listProviderSecrets(client);
      if (ctx.out.json) ctx.out.result({ providers });
      else if (providers.length === 0) ctx.out.print(`no provider secrets stored (known providers: ${KNOWN_PROVIDERS.join(', ')})`);
      else for (const p of providers) ctx.out.print(`${p.provider}\tversion ${p.version}\tupdated ${p.updatedTime}`);
      return ExitCode.ok;
    }
    case 'set': {
      let value: string;
      if (options.value !== undefined && options.value !== '-') {
        ctx.out.warn('the value was given on the command line, where `ps` and your shell history can see it; next time pipe it in or type it at the prompt');
        value = options.value;
      } else if (deps.stdin.isTTY && options.value === undefined) {
        value = await promptHidden(`${options.provider} API key (input hidden): `, deps.stdin, ctx.out.stderr);
      } else if (deps.stdin.isTTY) {
        throw new MstingError('USAGE', '"-" reads the value from standard input, but standard input is a terminal', {
          hint: `pipe the value in (\`pass show ${options.provider} | msting vault-secret set ${options.provider} -\`), or leave "-" out to be asked`,
        });
      } else {
        // A trailing newline is allowed on top of the limit.
        value = await readAll(deps.stdin, ctx.signal, { bytes: MAX_SECRET_BYTES + 2, tooLarge: secretTooLarge });
      }
      const version = await setProviderSecret(client, options.provider, value.replace(/\r?\n$/, ''));
      if (ctx.out.json) ctx.out.result({ provider: options.provider, version });
      else ctx.out.print(`stored ${options.provider} (version ${version}); services that use it pick it up on \`msting config render\` and restart`);
      return ExitCode.ok;
    }
    case 'get': {
      const value = await readProviderSecret(client, options.provider);
      if (value === undefined) {
        throw new MstingError('VAULT', `no secret stored for ${options.provider}`, { hint: `store one with \`msting vault-secret set ${options.provider}\`` });
      }
      const shown = options.reveal ? value : maskSecret(value);
      if (ctx.out.json) ctx.out.result({ provider: options.provider, value: shown, masked: !options.reveal });
      else ctx.out.print(shown);
      return ExitCode.ok;
    }
    case 'delete': {
      const deleted = await deleteProviderSecret(client, options.provider);
      if (ctx.out.json) ctx.out.result({ provider: options.provider, deleted });
      else ctx.out.print(deleted ? `deleted ${options.provider} (every version)` : `nothing stored for ${options.provider}`);
      return ExitCode.ok;
    }
  }
}
