import { resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import type { MstingConfig } from '../config/schema.js';
import type { Context } from '../context.js';
import { requireCompose } from '../lifecycle/stack.js';
import { MstingError } from '../errors.js';
import { createBackupEngine, type BackupEngine } from '../docker/backup-engine.js';
import { formatBytes } from '../bytes.js';
import { applyRestore, planRestore, type RestoreHooks, type RestorePlan, type RestoreStage } from '../backup/restore.js';
import { resolveImage } from '../stack/plan.js';
import { loadBackupSetup, readKeySources } from '../backup/key-sources.js';
import { ByteProgress } from '../ui/byte-progress.js';
import { promptHidden } from '../ui/hidden-prompt.js';

export interface RestoreCommandOptions {
  file: string;
  dryRun: boolean;
  passphraseFile?: string | undefined;
  keyFile?: string | undefined;
}

/**
 * Start services the way `msting start` does (config.yml as restored, render, dependency order,
 * Vault unsealed once it runs, health awaited), with the lifecycle start executor.
 */
function lifecycleStart(ctx: Context): RestoreHooks['start'] {
  return async (services) => {
    const [{ loadStack }, start, report] = await Promise.all([import('../lifecycle/stack.js'), import('../lifecycle/start-stack.js'), import('../ui/start-report.js')]);
    const stack = await loadStack(ctx);
    const docker = await start.startDocker(ctx);
    await start.portsOrThrow(stack, docker.engine);
    try {
      const request = { home: ctx.home, env: ctx.env, signal: ctx.signal, services: services ?? [], timeoutS: START_TIMEOUT_S };
      const { plan, result } = await start.renderAndStart(stack, docker, request, start.startAdapters(ctx, (m) => ctx.out.debug(m)), report.startCallbacks(ctx));
      await report.finishStart(plan, result, docker.engine, ctx, 'start');
    } catch (err) {
      if (err instanceof MstingError && err.code !== 'INTERRUPTED') {
        throw new MstingError(err.code, `starting ${services?.join(', ') ?? 'the stack'} after the restore failed: ${err.message}`, {
          ...(err.details ? { details: err.details } : {}),
          hint: `${err.hint ? `${err.hint}; ` : ''}the restored data is in place: run \`msting start\` once the cause is fixed`,
        });
      }
      throw err;
    }
  };
}

/** Seconds the restore waits for the stack to come up, as `msting start`'s default. */
const START_TIMEOUT_S = 300;

function vaultUnseal(config: MstingConfig, ctx: Context, engine: BackupEngine): RestoreHooks['ensureUnsealed'] {
  return async () => {
    const containers = await engine.listContainers(config.project.name);
    if (config.vault.mode !== 'server' || !containers.some((c) => c.service === 'vault')) return;
    const { openVault } = await import('../vault/session.js');
    const { ensureUnsealed } = await import('../vault/unseal.js');
    const session = await openVault({ config, home: ctx.home, env: ctx.env });
    await ensureUnsealed({ client: session.client, settings: session.settings, secretsDir: session.secretsDir, signal: ctx.signal });
  };
}

function describe(s: RestoreStage): string {
  switch (s.stage) {
    case 'verify':
      return 'verifying the whole archive';
    case 'stop':
      return `stopping ${s.services.join(', ') || 'nothing'}`;
    case 'start-db':
      return 'starting the database';
    case 'globals':
      return 'restoring roles';
    case 'database':
      return `restoring database ${s.name}`;
    case 'volume':
      return `restoring volume ${s.name}`;
    case 'config':
      return 'restoring config';
    case 'start':
      return 'starting the stack';
    case 'unseal':
      return 'unsealing Vault';
  }
}

function summary(plan: RestorePlan): string[] {
  const m = plan.manifest;
  return [
    `archive: ${plan.archive} (made ${m.created} by msting ${m.msting.version}, project ${m.stack.project}, PostgreSQL ${m.postgres.version})`,
    `stops: ${plan.stop.join(', ') || 'nothing is running'}`,
    `replaces databases: ${plan.databases.join(', ') || 'none'}, and the roles (pg_dumpall --globals-only)`,
    ...plan.volumes.map((v) => `replaces volume ${v.target}${v.exists ? '' : ' (absent now)'}: ${v.files} files, ${formatBytes(v.bytes)}`),
    ...plan.config.map((c) => `replaces ${c.target}`),
    ...plan.keys.map((k) => `writes Vault key material ${k} into the secrets directory`),
    `PostgreSQL: archive ${plan.postgres.archive}, current ${plan.postgres.current ?? 'unknown'} (${plan.postgres.currentFrom})`,
    `disk: about ${formatBytes(plan.disk.needed)} needed${plan.disk.free !== undefined ? `, ${formatBytes(plan.disk.free)} free` : ''}`,
  ];
}

async function confirm(ctx: Context, question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: ctx.out.stderr as NodeJS.WritableStream });
  try {
    const answer = await rl.question(`${question} [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

export async function run(options: RestoreCommandOptions, ctx: Context): Promise<number> {
  const { config, layout } = await loadBackupSetup(ctx);
  requireCompose(config, 'restore', 'restore on one host with orchestrator: compose (msting stop first removes the swarm stack; docs/swarm.md)');
  const file = resolve(options.file);
  const engine = createBackupEngine(ctx.env);
  const progress = new ByteProgress(ctx.out, 'restore');
  const restoreOptions = { path: file, keys: readKeySources(ctx.env, layout, options, promptHidden(ctx)), project: config.project.name, layout, signal: ctx.signal, dbImage: resolveImage(config, 'db') };
  const callbacks = {
    onStage: (s: RestoreStage) => progress.stage(describe(s), { ...s }),
    onBytes: progress.add,
    onWarning: (m: string) => ctx.out.warn(m),
  };
  let plan: RestorePlan;
  try {
    plan = await planRestore(engine, restoreOptions, callbacks);
  } finally {
    progress.done();
  }
  const lines = summary(plan);
  if (options.dryRun) {
    if (ctx.out.json) ctx.out.event({ event: 'result', dryRun: true, verified: true, plan: planJson(plan) });
    else {
      ctx.out.success('the archive verified; a restore would do this (nothing was changed):');
      ctx.out.print(lines.map((l) => `  ${l}`).join('\n'));
    }
    return 0;
  }
  if (!ctx.yes) {
    if (!ctx.stdinIsTTY || ctx.out.json) {
      throw new MstingError('USAGE', 'restore replaces the databases, volumes and config of the stack and there is no terminal to confirm it', {
        hint: 'run msting restore FILE --dry-run to see what it replaces, then add --yes',
      });
    }
    ctx.out.info(lines.map((l) => `  ${l}`).join('\n'));
    if (!(await confirm(ctx, 'Replace the current data with this archive?'))) {
      ctx.out.info('nothing was changed');
      return 1;
    }
  }
  const hooks: RestoreHooks = { start: lifecycleStart(ctx), ensureUnsealed: vaultUnseal(config, ctx, engine) };
  try {
    await applyRestore(engine, plan, restoreOptions, hooks, callbacks);
  } finally {
    progress.done();
  }
  if (ctx.out.json) ctx.out.event({ event: 'result', dryRun: false, restored: true, plan: planJson(plan) });
  else ctx.out.success(`restored ${file}: ${plan.databases.length} databases, ${plan.volumes.length} volumes; the stack is running`);
  return 0;
}

function planJson(plan: RestorePlan): Record<string, unknown> {
  return {
    archive: plan.archive,
    created: plan.manifest.created,
    project: plan.manifest.stack.project,
    databases: plan.databases,
    volumes: plan.volumes,
    config: plan.config,
    keys: plan.keys,
    stop: plan.stop,
    postgres: plan.postgres,
    disk: plan.disk,
  };
}
