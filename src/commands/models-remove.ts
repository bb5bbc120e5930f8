import { createInterface } from 'node:readline/promises';
import type { Context } from '../context.js';
import { usageError } from '../errors.js';
import { formatBytes } from '../bytes.js';
import { applyRemove, planRemove } from '../models/remove.js';
import { selectModels } from '../models/select.js';
import { loadModelsConfig, resolveModelsDir } from '../models/load-config.js';

export interface ModelsRemoveOptions {
  name: string;
}

/** `msting models remove NAME`: says what it deletes and frees, asks unless --yes. */
export async function run(options: ModelsRemoveOptions, ctx: Context): Promise<number> {
  const config = await loadModelsConfig(ctx);
  const dir = resolveModelsDir(ctx);
  const [model] = selectModels(config, [options.name], 'all');
  const plan = await planRemove(config, dir, model!);
  if (plan.paths.length === 0) {
    if (ctx.out.json) ctx.out.result({ name: plan.name, repo: plan.repo, removed: [], freed: 0 });
    else ctx.out.print(`${plan.name}: nothing downloaded in ${dir}`);
    return 0;
  }
  const what = `${plan.name} (${plan.repo}): deletes ${plan.paths.length} path${plan.paths.length === 1 ? '' : 's'} and frees ${formatBytes(plan.bytes)}`;
  if (!ctx.yes) {
    if (!ctx.stdinIsTTY || ctx.out.json) throw usageError(`removing ${what} needs confirmation`, 'add --yes to remove without asking');
    ctx.out.info(`will remove ${what}:`);
    for (const p of plan.paths) ctx.out.info(`  ${p}`);
    const rl = createInterface({ input: process.stdin, output: ctx.out.stderr });
    const answer = await rl.question('remove it? [y/N] ', { signal: ctx.signal }).finally(() => rl.close());
    if (!/^y(es)?$/i.test(answer.trim())) {
      ctx.out.info('nothing removed');
      return 0;
    }
  }
  await applyRemove(plan);
  if (ctx.out.json) ctx.out.result({ name: plan.name, repo: plan.repo, removed: plan.paths, freed: plan.bytes });
  else ctx.out.print(`removed ${plan.name} (${plan.repo}), freed ${formatBytes(plan.bytes)}`);
  return 0;
}
