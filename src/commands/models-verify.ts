import type { Context } from '../context.js';
import { ExitCode } from '../errors.js';
import { formatBytes } from '../bytes.js';
import { verifyModels } from '../models/verify.js';
import { loadModelsConfig, resolveModelsDir } from '../models/load-config.js';
import { progressRenderer } from '../ui/models-progress.js';

export interface ModelsVerifyOptions {
  names: string[];
}

/** `msting models verify [NAME...]`: hash every downloaded file against the hub's digests; exit 1 on any problem. */
export async function run(options: ModelsVerifyOptions, ctx: Context): Promise<number> {
  const config = await loadModelsConfig(ctx);
  const dir = resolveModelsDir(ctx);
  const progress = progressRenderer(ctx);
  let results;
  try {
    results = await verifyModels({ config, names: options.names, modelsDir: dir, signal: ctx.signal, onProgress: progress.onProgress });
  } finally {
    progress.stop();
  }
  const ok = results.every((r) => r.ok);
  if (ctx.out.json) {
    ctx.out.event({ event: 'result', models_dir: dir, ok, models: results });
    return ok ? ExitCode.ok : ExitCode.failure;
  }
  if (results.length === 0) {
    ctx.out.print(`nothing downloaded in ${dir} for the models in config.yml`);
    return ExitCode.ok;
  }
  for (const r of results) {
    if (r.commit === null) {
      ctx.out.print(`${r.name}: not downloaded (run msting models download ${r.name})`);
      continue;
    }
    const bad = r.files.filter((f) => f.state !== 'verified');
    if (bad.length === 0) ctx.out.print(`${r.name}: ${r.files.length} files verified (${formatBytes(r.size)})`);
    else {
      ctx.out.print(`${r.name}: ${bad.length} of ${r.files.length} files failed`);
      for (const f of bad) ctx.out.print(`  ${f.path}: ${f.state}${f.state === 'corrupt' ? ' (deleted)' : ''}`);
    }
  }
  if (!ok) ctx.out.info('hint: run msting models download to fetch what is missing or was deleted');
  return ok ? ExitCode.ok : ExitCode.failure;
}
