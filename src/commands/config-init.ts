import { readFile } from 'node:fs/promises';
import type { Context } from '../context.js';
import { MstingError } from '../errors.js';
import { writeFileAtomic } from '../files/atomic-write.js';
import { statOrUndefined } from '../files/stat.js';
import { starterConfig } from '../config/template.js';

export interface ConfigInitOptions {
  /** Replace an existing config.yml (the old one is kept as config.yml.bak). */
  force: boolean;
}

/** `msting config init`: write the commented starter config.yml, never over a user's file unasked. */
export async function run(options: ConfigInitOptions, ctx: Context): Promise<number> {
  const path = ctx.configPath;
  const existing = await statOrUndefined(path);
  if (existing?.isDirectory()) {
    throw new MstingError('IO', `${path} is a directory, not a config file`, { hint: 'remove it or point --config at a file' });
  }
  if (existing && !options.force) {
    throw new MstingError('CONFIG_EXISTS', `${path} already exists; it was left as it is`, {
      hint: 'check it with `msting config validate`, or replace it with `msting config init --force` (the old file is kept as config.yml.bak)',
    });
  }
  const text = await starterConfig();
  ctx.signal.throwIfAborted();
  let backup: string | null = null;
  if (existing) {
    backup = `${path}.bak`;
    await writeFileAtomic(backup, await readFile(path), { mode: existing.mode & 0o777 });
  }
  await writeFileAtomic(path, text, { mode: 0o644 });
  ctx.out.success(existing ? `replaced ${path} with the starter config` : `wrote ${path}`);
  if (backup) ctx.out.info(`the previous file is kept as ${backup}`);
  ctx.out.info('edit it, then run `msting config validate`');
  ctx.out.result({ path, replaced: Boolean(existing), backup });
  return 0;
}

