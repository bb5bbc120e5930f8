import type { Context } from '../context.js';
import { formatBytes } from '../bytes.js';
import { downloadModels } from '../models/download.js';
import { loadModelsConfig, resolveModelsDir } from '../models/load-config.js';
import { progressRenderer } from '../ui/models-progress.js';

export interface ModelsDownloadOptions {
  names: string[];
}

/** `msting models download [NAME...]`: fetch (or resume) and verify; the enabled models by default. */
export async function run(options: ModelsDownloadOptions, ctx: Context): Promise<number> {
  const config = await loadModelsConfig(ctx);
  const dir = resolveModelsDir(ctx);
  const progress = progressRenderer(ctx);
  let results;
  try {
    results = await downloadModels({
      config,
      names: options.names,
      modelsDir: dir,
      env: ctx.env,
      signal: ctx.signal,
      onProgress: progress.onProgress,
      tokenProvider: () => vaultToken(ctx, config),
    });
  } finally {
    progress.stop();
  }
  if (ctx.out.json) {
    // The last NDJSON line of the stream, after the progress events.
    ctx.out.event({ event: 'result', models_dir: dir, models: results });
    return 0;
  }
  if (results.length === 0) {
    ctx.out.print('no model is enabled in config.yml (llm.models[].enabled); name one to download it anyway');
    return 0;
  }
  for (const r of results) {
    ctx.out.print(
      `${r.name}: ${r.repo}@${r.commit.slice(0, 12)} verified, ${r.files} files, ${formatBytes(r.size)}` +
        `${r.fetched > 0 ? ` (${formatBytes(r.fetched)} downloaded)` : ' (already there)'} in ${r.snapshot}`,
    );
  }
  return 0;
}

/** The Hugging Face token kept in Vault (`msting vault-secret set huggingface`); asked only when the hub wants one. */
async function vaultToken(ctx: Context, config: Parameters<typeof downloadModels>[0]['config']): Promise<string | undefined> {
  const { openVault, managementClient } = await import('../vault/session.js');
  const { readProviderSecret } = await import('../vault/providers.js');
  const session = await openVault({ config, home: ctx.home, env: ctx.env, timeoutMs: 5000 });
  return readProviderSecret(await managementClient(session), 'huggingface');
}
