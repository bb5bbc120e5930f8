import { loadConfig } from '../config/load.js';
import type { MstingConfig } from '../config/schema.js';
import type { Context } from '../context.js';
import { installLayout, type InstallLayout } from '../layout.js';
import type { KeySource } from './crypto-format.js';
import { defaultKeyFilePath, obtainPassphrase, passphraseOffered, readKeyFile, type PassphraseSources } from './keys.js';

/**
 * What the backup commands start from: config.yml as it is (no stack plan: an archive is made
 * and opened without knowing the hardware) and the install directory's layout.
 */
export async function loadBackupSetup(ctx: Pick<Context, 'configPath' | 'configExplicit' | 'env' | 'home'>): Promise<{ config: MstingConfig; layout: InstallLayout }> {
  const { config } = await loadConfig({ configPath: ctx.configPath, configExplicit: ctx.configExplicit, env: ctx.env });
  return { config, layout: installLayout(ctx.home) };
}

/** Key sources for opening an archive; each is consulted only if the archive's header asks for it. */
export function readKeySources(
  env: NodeJS.ProcessEnv,
  layout: InstallLayout,
  options: { passphraseFile?: string | undefined; keyFile?: string | undefined },
  prompt: ((question: string) => Promise<string>) | undefined,
): KeySource {
  const sources: PassphraseSources = { file: options.passphraseFile, env, prompt };
  return {
    passphrase: () => obtainPassphrase(sources, false),
    keyFile: () => readKeyFile(options.keyFile ?? defaultKeyFilePath(layout.secretsDir)),
    passphraseOffered: passphraseOffered(sources),
  };
}
