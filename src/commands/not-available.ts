import type { Context } from '../context.js';
import { MstingError } from '../errors.js';

/** Commands declared for the whole surface but not shipped in this release say so plainly. */
export async function run(options: { command: string }, _ctx: Context): Promise<number> {
  throw new MstingError('NOT_AVAILABLE', `\`msting ${options.command}\` is not available in this release of msting yet`, {
    hint: 'see `msting --help` for the commands that work today',
  });
}
