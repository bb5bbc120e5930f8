import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { Context } from '../../../src/context.js';
import { createOutput } from '../../../src/ui/output.js';

export interface Captured {
  ctx: Context;
  stdout: () => string;
  stderr: () => string;
}

function sink(): { stream: Writable & { isTTY?: boolean }; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  return { stream, text: () => chunks.join('') };
}

/** A command context over a temporary home, with stdout and stderr captured. */
export async function makeContext(options: { json?: boolean; env?: NodeJS.ProcessEnv; home?: string; configPath?: string; explicit?: boolean } = {}): Promise<Captured> {
  const home = options.home ?? (await mkdtemp(join(tmpdir(), 'msting-config-')));
  const out = sink();
  const err = sink();
  const env = options.env ?? {};
  const ctx: Context = {
    home,
    configPath: options.configPath ?? join(home, 'conf', 'config.yml'),
    configExplicit: options.explicit ?? false,
    out: createOutput({ json: options.json ?? false, color: false, verbose: false }, { stdout: out.stream, stderr: err.stream }, env),
    yes: true,
    verbose: false,
    env,
    stdinIsTTY: false,
    signal: new AbortController().signal,
  };
  return { ctx, stdout: out.text, stderr: err.text };
}
