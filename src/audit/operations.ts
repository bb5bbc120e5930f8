import { stat } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { collectSecretValues } from '../doctor/redact.js';
import { isMstingError } from '../errors.js';
import { openRunLog } from '../install/run-log.js';

/**
 * msting's own audit trail: one `operation` line in logs/msting.log (JSON lines, mode 0600, the
 * same file install and update write their steps to) for every command that changes something:
 * who ran it (uid, user, the sudo user behind it), what (the command, the names it was given, the
 * option names but never their values), and the result. Every string passes the redactor with
 * the install's secrets, and the values a command takes as secrets are never recorded.
 */

/** Commands that only read: no line for them. */
const READ_ONLY = new Set([
  'status',
  'logs',
  'hardware',
  'swarm nodes',
  'models list',
  'images list',
  'models verify',
  'vault status',
  'vault-secret list',
  'encryption-keys status',
  'backup list',
  'backup verify',
  'bundle verify',
  'check-ports',
  'config validate',
  'config show',
  'config get',
  'config path',
]);

/** How many leading arguments a command may have recorded; the rest can be secret values. */
const KEPT_ARGS: Record<string, number> = { 'vault-secret set': 1, 'config set': 1 };

export interface Operation {
  /** e.g. "vault-secret set". */
  command: string;
  args: string[];
  /** Option names given on the command line (values are never recorded). */
  options: string[];
}

export function isAudited(op: Operation): boolean {
  // A dry run or a plan changes nothing, so it leaves no record (and creates no logs/).
  if (op.options.includes('dryRun') || op.options.includes('plan')) return false;
  if (op.command === 'doctor') return op.options.includes('bundle');
  if (op.command === 'vault-secret get') return op.options.includes('reveal');
  return !READ_ONLY.has(op.command);
}

function actor(env: NodeJS.ProcessEnv): { uid: number | null; user: string | null; sudo_user?: string } {
  let user: string | null = null;
  try {
    user = userInfo().username;
  } catch {
    user = env.USER ?? null;
  }
  return {
    uid: typeof process.getuid === 'function' ? process.getuid() : null,
    user,
    ...(env.SUDO_USER ? { sudo_user: env.SUDO_USER } : {}),
  };
}

/** Append one operation line to <home>/logs/msting.log. Never creates the install directory. */
export async function recordOperation(home: string, env: NodeJS.ProcessEnv, op: Operation, outcome: { exitCode: number; error?: unknown }): Promise<void> {
  if (!isAudited(op)) return;
  if (!(await stat(home).catch(() => undefined))?.isDirectory()) return;
  const kept = KEPT_ARGS[op.command];
  const args = kept === undefined ? op.args : op.args.slice(0, kept);
  const err = outcome.error;
  const log = await openRunLog(join(home, 'logs', 'msting.log'), { command: op.command, secrets: await collectSecretValues(home).catch(() => []) });
  log.write({
    event: 'operation',
    ...actor(env),
    args,
    options: op.options,
    result: outcome.exitCode === 0 && err === undefined ? 'ok' : 'failed',
    exit_code: outcome.exitCode,
    ...(err === undefined ? {} : isMstingError(err) ? { error: { code: err.code, message: err.message } } : { error: { code: 'FAILURE', message: err instanceof Error ? err.message : String(err) } }),
  });
  await log.close();
}
