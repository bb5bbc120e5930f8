import { MstingError } from '../errors.js';

/**
 * Reading secrets from a person or a pipe without echoing them, and without them ever passing
 * through argv. Prompts are written to stderr; the typed text is never shown.
 */

export interface InputStream extends NodeJS.ReadableStream {
  isTTY?: boolean;
  setRawMode?: (mode: boolean) => unknown;
}

/**
 * Everything on a piped standard input. With `limit`, stops reading past that many bytes and
 * throws what `tooLarge` makes, so an endless pipe never fills memory.
 */
export async function readAll(
  input: NodeJS.ReadableStream,
  signal?: AbortSignal,
  limit?: { bytes: number; tooLarge: (bytes: number) => Error },
): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  const onAbort = (): void => {
    (input as unknown as { destroy?: () => void }).destroy?.();
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const chunk of input) {
      const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
      total += buffer.length;
      if (limit && total > limit.bytes) {
        (input as unknown as { destroy?: () => void }).destroy?.();
        throw limit.tooLarge(total);
      }
      chunks.push(buffer);
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  if (signal?.aborted) throw signal.reason;
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * One line typed at a terminal with echo off. Ctrl-C aborts with INTERRUPTED; Ctrl-D on an empty
 * line returns ''.
 */
export function promptHidden(question: string, input: InputStream, output: NodeJS.WritableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    if (!input.isTTY || !input.setRawMode) {
      reject(new MstingError('USAGE', 'cannot prompt: standard input is not a terminal'));
      return;
    }
    output.write(question);
    input.setRawMode(true);
    input.resume();
    let value = '';
    const finish = (err?: Error): void => {
      input.removeListener('data', onData);
      input.setRawMode?.(false);
      input.pause();
      output.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (data: Buffer | string): void => {
      for (const ch of data.toString('utf8')) {
        if (ch === '\u0003') return finish(new MstingError('INTERRUPTED', 'interrupted', { hint: 'run the same command again' }));
        if (ch === '\r' || ch === '\n' || (ch === '\u0004' && value === '')) return finish();
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else if (ch >= ' ') value += ch;
      }
    };
    input.on('data', onData);
  });
}
