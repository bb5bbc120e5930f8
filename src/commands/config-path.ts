import { access } from 'node:fs/promises';
import type { Context } from '../context.js';

export type ConfigPathOptions = Record<string, never>;

/** `msting config path`: where the install directory and config.yml are, and whether the file exists. */
export async function run(_options: ConfigPathOptions, ctx: Context): Promise<number> {
  const exists = await access(ctx.configPath).then(
    () => true,
    () => false,
  );
  if (ctx.out.json) {
    ctx.out.result({ home: ctx.home, config: ctx.configPath, exists, explicit: ctx.configExplicit });
    return 0;
  }
  ctx.out.print(`home    ${ctx.home}`);
  ctx.out.print(`config  ${ctx.configPath}${exists ? '' : ' (does not exist yet; `msting config init` writes it)'}`);
  return 0;
}
