import { access, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { createInterface } from 'node:readline/promises';
import { loadConfig } from '../config/load.js';
import type { Context } from '../context.js';
import { createDockerEngine, type DockerEngine } from '../docker/engine.js';
import { ExitCode, MstingError } from '../errors.js';
import { modelsDir } from '../layout.js';
import { executeClean, planClean, type CleanPlan } from '../lifecycle/clean.js';
import { modelStatePath, repoPaths } from '../models/cache-layout.js';

export interface UninstallCommandOptions {
  purge: boolean;
}

export interface UninstallDeps {
  engine(ctx: Context): DockerEngine;
  confirm(question: string, ctx: Context): Promise<boolean>;
}

async function askOnTerminal(question: string, ctx: Context): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: ctx.out.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question, { signal: ctx.signal })).trim());
  } finally {
    rl.close();
  }
}

export const defaultDeps: UninstallDeps = { engine: (ctx) => createDockerEngine(ctx.env), confirm: askOnTerminal };

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

export interface UninstallPlan {
  docker: CleanPlan;
  /** With --purge: the install directory and the configured models' folders. */
  paths: string[];
}

/**
 * `msting uninstall [--purge]`: stop and remove the stack's containers and networks, keeping its
 * data (volumes), the install directory and the models. With --purge also the volumes, the
 * install directory (config, secrets, Vault shares, backups) and the downloaded models, after
 * listing every one of them and asking (or --yes).
 */
export async function run(options: UninstallCommandOptions, ctx: Context, deps: UninstallDeps = defaultDeps): Promise<number> {
  const { out } = ctx;
  const { config } = await loadConfig({ configPath: ctx.configPath, configExplicit: ctx.configExplicit, env: ctx.env });
  const engine = deps.engine(ctx);
  await engine.ping();
  const docker = await planClean(engine, config.project.name, options.purge);
  const paths: string[] = [];
  if (options.purge) {
    if (await exists(ctx.home)) paths.push(ctx.home);
    const dir = modelsDir(ctx.env, process.platform, homedir());
    for (const m of config.llm.models) {
      for (const p of [repoPaths(dir, m.repo).root, repoPaths(dir, m.repo).locks, modelStatePath(dir, m.name)]) if (await exists(p)) paths.push(p);
    }
  }
  const plan: UninstallPlan = { docker, paths };
  const lines = [
    ...(docker.containers.length ? [`containers: ${docker.containers.map((c) => c.name).join(', ')}`] : []),
    ...(docker.networks.length ? [`networks:   ${docker.networks.map((n) => n.name).join(', ')}`] : []),
    ...(docker.volumes.length ? [`volumes:    ${docker.volumes.map((v) => v.name).join(', ')}  (all their data: databases, Vault, uploads)`] : []),
    ...paths.map((p) => `directory:  ${p}${p === ctx.home ? '  (config.yml, secrets and Vault unseal shares, certificates, backups)' : ''}`),
  ];
  if (lines.length === 0) {
    if (out.json) out.result({ removed: { containers: [], networks: [], volumes: [], paths: [] }, kept_volumes: docker.keptVolumes.map((v) => v.name) });
    else out.print(`nothing to uninstall: project ${config.project.name} has no containers${options.purge ? ', volumes or files' : ''}`);
    return ExitCode.ok;
  }
  if (!out.json) {
    out.info(`msting uninstall${options.purge ? ' --purge' : ''} will remove:`);
    for (const l of lines) out.info(`  ${l}`);
    if (!options.purge && docker.keptVolumes.length) out.info(`kept: volumes ${docker.keptVolumes.map((v) => v.name).join(', ')}, ${ctx.home}, the models (--purge removes them)`);
  }
  if (options.purge && !ctx.yes) {
    if (!ctx.stdinIsTTY) {
      throw new MstingError('USAGE', 'uninstall --purge deletes every volume, the install directory and the models, and there is no terminal to ask', {
        details: lines,
        hint: 'run it again with --yes to confirm: msting uninstall --purge --yes',
      });
    }
    if (!(await deps.confirm('Delete all of this, with no way back unless you have a backup elsewhere? [y/N] ', ctx))) {
      out.print('nothing was removed');
      return ExitCode.failure;
    }
  }
  const report = await executeClean(plan.docker, engine, { stopTimeoutS: config.stop_timeout, onRemoved: (kind, name) => out.debug(`removed ${kind} ${name}`) });
  for (const p of plan.paths) await rm(p, { recursive: true, force: true });
  if (out.json) out.result({ removed: { ...report, paths: plan.paths }, kept_volumes: docker.keptVolumes.map((v) => v.name) });
  else {
    out.print(`removed ${report.containers.length} containers, ${report.networks.length} networks${options.purge ? `, ${report.volumes.length} volumes and ${plan.paths.length} directories` : ''}`);
    if (!options.purge) out.print(`data kept: volumes and ${ctx.home}; \`msting install\` brings the stack back, \`msting uninstall --purge\` removes everything`);
  }
  return ExitCode.ok;
}
