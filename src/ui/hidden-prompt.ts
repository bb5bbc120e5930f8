import type { Context } from '../context.js';
import { MstingError } from '../errors.js';

/** Read a line from the terminal without echoing it. */
export function promptHidden(ctx: Context): ((question: string) => Promise<string>) | undefined {
  if (!ctx.stdinIsTTY || ctx.out.json) return undefined;
  return (question) =>
    new Promise((resolve, reject) => {
      const stdin = process.stdin;
      ctx.out.stderr.write(question);
      let value = '';
      const wasRaw = stdin.isRaw;
      stdin.setRawMode?.(true);
      stdin.resume();
      const finish = (err?: Error): void => {
        stdin.off('data', onData);
        stdin.setRawMode?.(wasRaw);
        stdin.pause();
        ctx.out.stderr.write('\n');
        if (err) reject(err);
        else resolve(value);
      };
      const onData = (data: Buffer): void => {
        for (const ch of data.toString('utf8')) {
          if (ch === '\r' || ch === '\n') return finish();
          if (ch === '\u0003') return finish(new MstingError('INTERRUPTED', 'interrupted'));
          if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
          else value += ch;
        }
      };
      stdin.on('data', onData);
    });
}

