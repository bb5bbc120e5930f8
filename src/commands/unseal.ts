import { readFile } from 'node:fs/promises';
import type { Context } from '../context.js';
import { ExitCode, MstingError } from '../errors.js';
import { VAULT_HINTS, VaultError } from '../vault/client.js';
import { promptHidden, readAll, type InputStream } from '../vault/input.js';
import { DEV_MODE_WARNING, openVaultForCommand } from '../vault/session.js';
import { vaultStatus } from '../vault/status.js';
import { parseShares, readStoredShares } from '../vault/store.js';
import { submitShares, type UnsealProgress } from '../vault/unseal.js';

export interface UnsealOptions {
  /** A file with shares, one a line; "-" reads standard input (`--shares-file`). */
  sharesFile?: string | undefined;
}

export interface UnsealDeps {
  stdin: InputStream;
}

export type ShareSource = 'store' | 'file' | 'stdin' | 'prompt';

const SOURCES_HINT = 'give the shares with --shares-file FILE (or --shares-file - for standard input), pipe them in, run on a terminal to type them, or keep them in secrets/ (msting vault init)';

/**
 * `msting unseal`: shares from --shares-file, else the ones stored on this host, else standard input
 * when it is piped, else typed at a hidden prompt. Prints progress (2 of 3) and tells a wrong
 * share apart (Vault refuses it and the progress goes back to 0).
 */
export async function run(options: UnsealOptions, ctx: Context, deps: UnsealDeps = { stdin: process.stdin }): Promise<number> {
  const { session, config } = await openVaultForCommand(ctx);
  if (config.vault.mode === 'dev') ctx.out.warn(DEV_MODE_WARNING);
  const before = await vaultStatus(session.client);
  if (before.state === 'unreachable') throw new VaultError('unreachable', `Vault is not reachable at ${session.address}`, { hint: VAULT_HINTS.unreachable });
  if (before.state === 'uninitialized') throw new VaultError('uninitialized', 'Vault is not initialized: there is nothing to unseal', { hint: VAULT_HINTS.uninitialized });
  if (before.state === 'unsealed') {
    if (ctx.out.json) ctx.out.result({ vault: { state: 'unsealed', progress: 0, threshold: before.threshold }, source: null, sharesAccepted: 0 });
    else ctx.out.print('Vault is already unsealed');
    return ExitCode.ok;
  }

  const onProgress = (p: UnsealProgress): void => {
    if (p.sealed) ctx.out.info(`  unseal progress: ${p.progress} of ${p.threshold}`);
  };

  let source: ShareSource;
  let shares: string[] | undefined;
  if (options.sharesFile !== undefined) {
    source = options.sharesFile === '-' ? 'stdin' : 'file';
    shares = parseShares(options.sharesFile === '-' ? await readAll(deps.stdin, ctx.signal) : await readSharesFile(options.sharesFile));
  } else {
    const stored = await readStoredShares(session.secretsDir);
    if (stored) {
      source = 'store';
      shares = stored.keys_base64;
    } else if (!deps.stdin.isTTY) {
      source = 'stdin';
      shares = parseShares(await readAll(deps.stdin, ctx.signal));
      if (shares.length === 0) throw new MstingError('USAGE', 'no unseal shares: none stored on this host, none on standard input, and no terminal to ask', { hint: SOURCES_HINT });
    } else {
      source = 'prompt';
    }
  }

  let outcome;
  if (shares !== undefined) {
    if (shares.length === 0) throw new MstingError('USAGE', `no unseal shares in ${source === 'file' ? options.sharesFile : 'standard input'}`, { hint: SOURCES_HINT });
    outcome = await submitShares(session.client, shares, onProgress);
  } else {
    const threshold = before.threshold ?? 1;
    let progress = before.progress ?? 0;
    outcome = { sealed: true, progress, threshold, accepted: 0 };
    while (outcome.sealed) {
      const share = (await promptHidden(`Unseal share (${progress + 1} of ${threshold}, input hidden): `, deps.stdin, ctx.out.stderr)).trim();
      if (share === '') throw new MstingError('USAGE', 'no share entered; Vault stays sealed', { hint: 'run `msting unseal` again' });
      const step = await submitShares(session.client, [share], onProgress);
      outcome = { ...step, accepted: outcome.accepted + step.accepted };
      progress = step.progress;
    }
  }

  if (outcome.sealed) {
    const missing = outcome.threshold - outcome.progress;
    if (ctx.out.json) ctx.out.result({ vault: { state: 'sealed', progress: outcome.progress, threshold: outcome.threshold }, source, sharesAccepted: outcome.accepted });
    else ctx.out.print(`Vault is still sealed: ${outcome.progress} of ${outcome.threshold} shares given; ${missing} more needed (run \`msting unseal\` again)`);
    return ExitCode.failure;
  }
  if (ctx.out.json) ctx.out.result({ vault: { state: 'unsealed', progress: outcome.threshold, threshold: outcome.threshold }, source, sharesAccepted: outcome.accepted });
  else ctx.out.print(`Vault unsealed (${outcome.threshold} of ${outcome.threshold} shares, from ${source === 'store' ? 'the shares stored on this host' : source === 'file' ? options.sharesFile : source === 'stdin' ? 'standard input' : 'the prompt'})`);
  return ExitCode.ok;
}

async function readSharesFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new MstingError('USAGE', `cannot read the shares file ${path}${code ? ` (${code})` : ''}`, { hint: SOURCES_HINT, cause: err });
  }
}
