import { access, mkdir } from 'node:fs/promises';
import { dirname, relative, resolve } from 'node:path';
import { checkBundleTarget } from '../bundle/format.js';
import { readBundleHeader } from '../bundle/read.js';
import type { BundleSource } from '../bundle/source.js';
import { writeFileAtomic } from '../files/atomic-write.js';
import { openBundleWithProgress } from '../ui/bundle-open.js';
import { loadConfig } from '../config/load.js';
import { formatProblem } from '../config/problems.js';
import type { Context } from '../context.js';
import { ExitCode } from '../errors.js';
import { executeInstall, type StepEvent } from '../install/execute.js';
import { installFingerprints, installSteps, skippedSteps, type InstallSummary, type InstallSystems } from '../install/flow.js';
import { quickPlan } from '../render/quick-plan.js';
import { planInstall, type InstallPlan } from '../install/plan.js';
import { openRunLog } from '../install/run-log.js';
import { emptyState, readState, StateJournal } from '../install/state.js';
import { createInstallSystems } from '../install/systems.js';
import { installLayout } from '../layout.js';
import { requireCompose } from '../lifecycle/stack.js';
import type { PreflightReport } from '../preflight/checks.js';
import type { Output } from '../ui/output.js';
import { StatusLine } from '../ui/progress.js';
import { MSTING_VERSION } from '../package-info.js';

export interface InstallCommandOptions {
  profile?: string | undefined;
  dryRun: boolean;
  skipModels: boolean;
  force: boolean;
  /** An offline bundle: images and models come from it, nothing is pulled or downloaded. */
  bundle?: string | undefined;
  timeout: number;
}


/**
 * `msting install`: preflight, directories, config, hardware, certificates, render, images,
 * Vault, secrets, database, Kratos migration, the rest of the profile, models, summary. Every
 * step is journaled in state.json as it finishes; a second run skips what is done (after a cheap
 * check that it still holds) and continues where the first one stopped.
 */
export async function run(options: InstallCommandOptions, ctx: Context, systemsFor: typeof createInstallSystems = createInstallSystems): Promise<number> {
  const { out } = ctx;
  const layout = installLayout(ctx.home);
  const bundleFile = options.bundle === undefined ? undefined : resolve(options.bundle);
  // With a bundle and no config.yml yet, the bundle's config is the one installed, and its profile the default.
  const header = bundleFile ? await readBundleHeader(bundleFile) : undefined;
  const configFromBundle = header !== undefined && !ctx.configExplicit && !(await exists(ctx.configPath));
  const readConfig = (profile: string | undefined) => loadConfig({ configPath: ctx.configPath, configExplicit: ctx.configExplicit, env: ctx.env, profile });
  const existing = configFromBundle ? undefined : await readConfig(options.profile);
  const profile = options.profile ?? (configFromBundle ? header.profile : existing!.config.profile);
  let bundle: BundleSource | undefined;
  if (bundleFile && header) {
    // From the header alone: a bundle for another profile or msting version is refused before gigabytes are read.
    checkBundleTarget(header, { version: MSTING_VERSION, profile }, bundleFile);
    if (!options.dryRun) {
      bundle = await openBundleWithProgress(bundleFile, profile, ctx, options.skipModels);
      if (configFromBundle) {
        await mkdir(dirname(ctx.configPath), { recursive: true });
        await writeFileAtomic(ctx.configPath, bundle.config, { mode: 0o644 });
        out.info(`config.yml taken from the bundle: ${ctx.configPath}`);
      }
    }
  }
  const loaded = existing ?? (await readConfig(profile));
  requireCompose(loaded.config, 'install', 'install on one host with orchestrator: compose, then switch to swarm and run `msting start` (docs/swarm.md)');
  for (const w of loaded.warnings) out.warn(formatProblem(w, loaded.path));
  const config = loaded.config;
  const state = await readState(layout.stateFile);
  const plan = planInstall({
    state,
    profile,
    fingerprints: installFingerprints(config, profile, quickPlan(config, profile, ctx.env)),
    skip: skippedSteps(config, profile, options.skipModels),
  });

  if (options.dryRun) {
    printPlan(out, plan, ctx.home);
    return ExitCode.ok;
  }

  const systems: InstallSystems = { ...systemsFor(config, ctx.home, ctx.env, ctx.signal), ...(bundle ? { bundle } : {}) };
  const log = await openRunLog(`${layout.logsDir}/msting.log`, { command: 'install' });
  const journal = new StateJournal(layout.stateFile, state ?? emptyState(profile, MSTING_VERSION, new Date()));
  const progress = new StepProgress(out);
  const { steps, summary } = installSteps({
    home: ctx.home,
    configPath: ctx.configPath,
    config,
    env: ctx.env,
    signal: ctx.signal,
    options: { profile, skipModels: options.skipModels, force: options.force, timeoutS: options.timeout },
    systems,
    callbacks: {
      onPreflight: (report) => printPreflight(out, report),
      onServiceState: (service, st, detail) => {
        if (out.json) out.event({ event: 'service', service, state: st, ...(detail ? { detail } : {}) });
        else if (st !== 'waiting') out.info(`    ${service}: ${st}${detail ? ` (${detail})` : ''}`);
        log.write({ event: 'service', service, state: st, ...(detail ? { detail } : {}) });
      },
      onLine: (line) => {
        out.debug(`    ${line}`);
        log.write({ event: 'output', line });
      },
      onImage: (service, image, action) => {
        if (out.json) out.event({ event: 'image', service, image, action });
        else if (action !== 'present') out.info(`    ${action === 'done' ? 'ready' : action === 'pull' ? 'pulling' : 'building'} ${image}`);
        log.write({ event: 'image', service, image, action });
      },
      onVault: (message) => {
        if (out.json) out.event({ event: 'vault', message });
        else out.info(`    ${message}`);
        log.write({ event: 'vault', message });
      },
      onInfo: (message) => {
        out.debug(`    ${message}`);
        log.write({ event: 'info', message });
      },
      onModelProgress: (e) => {
        if (e.file !== null) return;
        if (out.json) out.event({ event: 'model', model: e.model, state: e.state, bytes: e.bytes, total: e.total });
        else if (e.state !== 'downloading') out.info(`    ${e.model}: ${e.state}`);
      },
    },
  });
  await journal.setProfile(profile, MSTING_VERSION);
  try {
    await executeInstall(plan, steps, { journal, log, signal: ctx.signal, onStep: (e) => progress.step(e) });
  } finally {
    progress.close();
    await log.close();
  }
  printSummary(out, await summary(), ctx.home);
  return ExitCode.ok;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

export function printPlan(out: Output, plan: InstallPlan, home: string): void {
  if (out.json) {
    out.result({ dry_run: true, home, profile: plan.profile, resuming: plan.resuming, steps: plan.steps.map((s) => ({ step: s.id, action: s.action, reason: s.reason })) });
    return;
  }
  out.print(`install plan for profile ${plan.profile} in ${home}${plan.resuming ? ' (continuing an earlier install)' : ''}; nothing was changed:`);
  const width = Math.max(...plan.steps.map((s) => s.id.length));
  for (const s of plan.steps) {
    const mark = s.action === 'run' ? 'run  ' : s.action === 'check' ? 'check' : 'skip ';
    out.print(`  ${mark}  ${s.id.padEnd(width)}  ${s.title}${s.action === 'run' && s.reason.startsWith('runs on every') ? '' : ` (${s.reason})`}`);
  }
}

export function printPreflight(out: Output, report: PreflightReport): void {
  if (out.json) {
    out.event({ event: 'preflight', ok: report.ok, checks: report.checks });
    return;
  }
  for (const c of report.checks) {
    const mark = c.ok ? out.paint('green', '✔') : c.severity === 'error' ? out.paint('red', '✖') : out.paint('yellow', '!');
    out.info(`    ${mark} ${c.message}`);
    if (!c.ok && c.hint) out.info(`      ${c.hint}`);
  }
}

function printSummary(out: Output, s: InstallSummary, home: string): void {
  if (out.json) {
    out.event({ event: 'summary', ok: true, profile: s.profile, urls: s.urls, vault: s.vault, models: s.models, ca_certificate: s.caCert });
    return;
  }
  const lines: string[] = ['', `STING-CE is installed (profile ${s.profile}) in ${home}.`, ''];
  if (s.urls.frontend) lines.push(`  web UI:   ${s.urls.frontend}`);
  if (s.urls.api) lines.push(`  API:      ${s.urls.api}`);
  if (s.urls.mailpit) lines.push(`  Mailpit:  ${s.urls.mailpit}  (sign-in codes and mail the stack sends)`);
  if (s.urls.grafana) lines.push(`  Grafana:  ${s.urls.grafana}`);
  lines.push('');
  if (s.vault.sharesPath) {
    const rel = relative(process.cwd(), s.vault.sharesPath);
    lines.push(`Vault's unseal shares are in ${rel.length < s.vault.sharesPath.length ? rel : s.vault.sharesPath} (mode 0600).`);
    lines.push(
      s.vault.autoUnseal
        ? '  msting uses them to unseal Vault after a restart. Copy them somewhere safe off this host (a password manager, a USB key);'
        : '  Copy them off this host now; after each restart run `msting unseal`.',
    );
    lines.push('  whoever holds this machine and the shares can read every secret, so for a server consider moving them off and running `msting unseal` by hand.');
  }
  if (s.caCert) lines.push(`The web UI's certificate comes from a local certificate authority (${s.caCert}); \`msting setup-ssl\` says how to trust it, or gets a Let's Encrypt certificate.`);
  lines.push('', 'Next steps:', '  msting status            every service and its health', '  msting backup --encrypt  a first backup');
  if (s.models.length === 0) lines.push('  msting models download   fetch the models (full profile)');
  out.print(lines.join('\n'));
}

/**
 * One line per step state to stderr, as NDJSON under --json; on a terminal the running step is a
 * spinner line, replaced by the step's outcome.
 */
class StepProgress {
  private readonly line: StatusLine;
  constructor(private readonly out: Output) {
    this.line = new StatusLine(out);
  }
  close(): void {
    this.line.done();
  }
  step(e: StepEvent): void {
    const { out } = this;
    if (out.json) {
      out.event({ event: 'step', step: e.step, state: e.state, ...(e.reason ? { reason: e.reason } : {}), ...(e.durationMs !== undefined ? { duration_ms: e.durationMs } : {}) });
      return;
    }
    const secs = e.durationMs !== undefined ? ` (${(e.durationMs / 1000).toFixed(1)} s)` : '';
    switch (e.state) {
      case 'running':
        if (out.interactive) this.line.set(`${e.step}: ${e.title}`);
        else out.info(`${out.paint('cyan', '▸')} ${e.step}: ${e.title}`);
        break;
      case 'checking':
        out.debug(`▸ ${e.step}: checking that it still holds`);
        break;
      case 'done':
        out.success(`${e.step}${secs}`);
        break;
      case 'skipped':
        out.info(`${out.paint('dim', '↷')} ${e.step}: skipped (${e.reason ?? 'done'})`);
        break;
      case 'failed':
        out.info(`${out.paint('red', '✖')} ${e.step} failed${secs}`);
        break;
    }
  }
}
