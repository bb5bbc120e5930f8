import type { Context } from '../context.js';
import { ExitCode, MstingError } from '../errors.js';
import { promptHidden, type InputStream } from '../vault/input.js';
import { keysStatus, planRotation, rotateKeys, type RotationDeps } from '../vault/keys.js';
import { DEV_MODE_WARNING, managementClient, openVaultForCommand } from '../vault/session.js';
import { createRotationDeps } from '../vault/rotation-deps.js';

export type EncryptionKeysOptions = { action: 'status' } | { action: 'rotate'; key?: string | undefined };

export interface EncryptionKeysDeps {
  rotation?: (ctx: Context) => RotationDeps;
  stdin: InputStream;
}

/**
 * `msting encryption-keys status|rotate [KEY]`: each key's presence, KV version, age and last
 * rotation; rotation writes a new version (check-and-set), re-renders, and restarts only the
 * services that use the rotated keys.
 */
export async function run(options: EncryptionKeysOptions, ctx: Context, deps: EncryptionKeysDeps = { stdin: process.stdin }): Promise<number> {
  const { session, config } = await openVaultForCommand(ctx);
  if (config.vault.mode === 'dev') ctx.out.warn(DEV_MODE_WARNING);
  const client = await managementClient(session);

  if (options.action === 'status') {
    const keys = await keysStatus(client);
    if (ctx.out.json) {
      ctx.out.result({ keys });
      return ExitCode.ok;
    }
    for (const k of keys) {
      const state = k.present ? `version ${k.version}, ${k.ageDays} day${k.ageDays === 1 ? '' : 's'} old, ${k.lastRotation ? `last rotated ${k.lastRotation}` : 'never rotated'}` : 'missing (run `msting vault init`)';
      ctx.out.print(`${k.id.padEnd(24)} ${state}; used by ${k.consumers.join(', ') || 'msting only'}`);
    }
    return keys.every((k) => k.present) ? ExitCode.ok : ExitCode.failure;
  }

  const keys = planRotation(options.key);
  const destructive = keys.filter((k) => k.destroysData);
  if (destructive.length > 0 && !ctx.yes) {
    const warning = destructive.map((k) => `${k.id}: ${k.effect}`).join('; ');
    if (!ctx.stdinIsTTY) {
      throw new MstingError('USAGE', `rotating ${destructive.map((k) => k.id).join(', ')} loses data: ${warning}`, { hint: 'add --yes to rotate anyway' });
    }
    ctx.out.warn(warning);
    const answer = await promptAnswer(`Rotate ${destructive.map((k) => k.id).join(', ')} anyway? Type "rotate" to confirm: `, deps.stdin, ctx);
    if (answer !== 'rotate') {
      ctx.out.print('nothing rotated');
      return ExitCode.failure;
    }
  }
  const rotation = (deps.rotation ?? createRotationDeps)(ctx);
  const result = await rotateKeys(client, keys, {
    rerender: async () => {
      ctx.out.info('  rendering the env files again');
      await rotation.rerender();
    },
    restart: async (services) => {
      ctx.out.info(`  restarting ${services.join(', ')}`);
      await rotation.restart(services);
    },
  });
  if (ctx.out.json) ctx.out.result(result);
  else {
    for (const r of result.rotated) ctx.out.print(`rotated ${r.id} (now version ${r.version})`);
    ctx.out.print(result.restarted.length > 0 ? `restarted: ${result.restarted.join(', ')}` : 'no service uses these keys: nothing to restart');
  }
  return ExitCode.ok;
}

async function promptAnswer(question: string, stdin: InputStream, ctx: Context): Promise<string> {
  // Not a secret, but the same raw-mode reader keeps one code path for terminal input.
  return (await promptHidden(question, stdin, ctx.out.stderr)).trim();
}
