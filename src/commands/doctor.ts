import { resolve } from 'node:path';
import { loadConfig } from '../config/load.js';
import type { Context } from '../context.js';
import { createComposeCli } from '../docker/compose-cli.js';
import { createContainerExec } from '../docker/container-exec.js';
import { createDockerEngine, type ContainerInfo } from '../docker/engine.js';
import { vaultAuditEntry, writeBundle, type BundleEntry } from '../doctor/bundle.js';
import { certificateExpiryCheck, keyCustodyCheck } from '../doctor/custody.js';
import { collectSecretValues, createRedactor } from '../doctor/redact.js';
import { ExitCode } from '../errors.js';
import { profileRunsModels } from '../install/flow.js';
import { quickPlan } from '../render/quick-plan.js';
import { readState, type InstallState } from '../install/state.js';
import { installLayout } from '../layout.js';
import { checkPorts } from '../lifecycle/ports.js';
import { buildStatus, type StatusReport } from '../lifecycle/status.js';
import { evaluatePreflight, type PreflightCheck } from '../preflight/checks.js';
import { gatherPreflight } from '../preflight/gather.js';
import { SECRET_SPECS } from '../stack/secrets.js';
import { runningVaultContainer } from '../vault/audit-log.js';

export interface DoctorCommandOptions {
  bundle?: string | undefined;
}

const DAY = 86_400_000;
/** A newest backup older than this is reported. */
export const BACKUP_MAX_AGE_DAYS = 7;
const BUNDLE_LOG_LINES = 300;

/**
 * `msting doctor [--bundle FILE]`: every preflight check, then each service's state, Vault, the
 * install journal and the last backup, as one list of checks; with --bundle, a tar.gz for
 * support with every secret redacted.
 */
export async function run(options: DoctorCommandOptions, ctx: Context): Promise<number> {
  const { out } = ctx;
  const layout = installLayout(ctx.home);
  const { config } = await loadConfig({ configPath: ctx.configPath, configExplicit: ctx.configExplicit, env: ctx.env });
  const state = await readState(layout.stateFile).catch(() => undefined);
  const profile = state?.profile ?? config.profile;
  const plan = quickPlan(config, profile, ctx.env);
  const engine = createDockerEngine(ctx.env);
  const compose = createComposeCli(ctx.env, ctx.home);

  let containers: ContainerInfo[] = [];
  const facts = await gatherPreflight({
    profile,
    runsModels: profileRunsModels(config, profile),
    force: true,
    home: ctx.home,
    env: ctx.env,
    engine,
    compose,
    probeImages: plan.services.filter((s) => ['redis', 'db'].includes(s.name)).map((s) => s.image),
    ports: async () => {
      const [own, running] = await Promise.all([engine.listContainers(config.project.name), engine.listRunningContainers()]);
      containers = own;
      const ids = new Set(own.map((c) => c.id));
      return checkPorts({ plan, ownContainers: own, otherContainers: running.filter((c) => !ids.has(c.id)), bindLocally: engine.endpoint.kind === 'unix' });
    },
    signal: ctx.signal,
  });
  const checks: PreflightCheck[] = evaluatePreflight(facts).checks.map((c) => (c.id === 'ports' && !c.ok ? { ...c, severity: 'warning' as const } : c));

  let status: StatusReport | null = null;
  let vaultState: string | null = null;
  if (facts.engine.ok) {
    const { openVault } = await import('../vault/session.js');
    const { vaultStatus, describeVaultStatus } = await import('../vault/status.js');
    const v = await vaultStatus((await openVault({ config, home: ctx.home, env: ctx.env, timeoutMs: 3000 })).client);
    vaultState = v.state;
    checks.push(
      v.state === 'unsealed'
        ? { id: 'vault', ok: true, severity: 'info', message: `Vault: ${describeVaultStatus(v)}`, hint: null }
        : { id: 'vault', ok: false, severity: 'error', message: `Vault: ${describeVaultStatus(v)}`, hint: v.state === 'sealed' ? 'msting unseal' : v.state === 'uninitialized' ? 'msting install (or msting vault init)' : 'msting start vault' },
    );
    status = buildStatus({ plan, config, containers, vault: { state: v.state } });
    for (const s of status.services.filter((x) => x.in_profile)) {
      checks.push(
        s.ok
          ? { id: `service:${s.service}`, ok: true, severity: 'info', message: `${s.service}: ${s.job ? 'completed' : `${s.state}${s.health !== 'none' ? `, ${s.health}` : ''}`}`, hint: null }
          : { id: `service:${s.service}`, ok: false, severity: 'error', message: `${s.service}: ${s.state}${s.health !== 'none' ? `, ${s.health}` : ''}${s.exit_code !== null ? ` (exit code ${s.exit_code})` : ''}`, hint: `msting logs ${s.service}; msting start` },
      );
    }
  }
  checks.push(journalCheck(state));
  checks.push(await keyCustodyCheck(layout.secretsDir));
  const certificate = await certificateExpiryCheck(layout.certsDir);
  if (certificate) checks.push(certificate);
  checks.push(await backupCheck(layout.backupsDir));

  const ok = checks.every((c) => c.ok || c.severity !== 'error');
  let bundle: { path: string; files: string[] } | null = null;
  if (options.bundle) {
    bundle = await makeBundle(resolve(options.bundle), ctx, { checks, status, vaultState, engine, containers, config });
  }
  if (out.json) {
    out.result({ ok, profile, checks, bundle: bundle ? { path: bundle.path, files: bundle.files } : null });
  } else {
    for (const c of checks) {
      const mark = c.ok ? out.paint('green', '✔') : c.severity === 'error' ? out.paint('red', '✖') : out.paint('yellow', '!');
      out.print(`${mark} ${c.message}${!c.ok && c.hint ? `\n    ${c.hint}` : ''}`);
    }
    if (bundle) out.print(`support bundle (secrets redacted): ${bundle.path}`);
    out.print(ok ? 'no problem found' : `${checks.filter((c) => !c.ok && c.severity === 'error').length} problem(s) found`);
  }
  return ok ? ExitCode.ok : ExitCode.failure;
}

function journalCheck(state: InstallState | undefined): PreflightCheck {
  if (!state) return { id: 'install', ok: false, severity: 'warning', message: 'no install journal (state.json): msting install has not run here', hint: 'msting install' };
  const failed = Object.entries(state.steps).find(([, r]) => r.status === 'failed');
  if (failed) return { id: 'install', ok: false, severity: 'error', message: `the last install stopped at step "${failed[0]}": ${failed[1].error?.message ?? 'unknown error'}`, hint: 'msting install (it continues from that step)' };
  return { id: 'install', ok: true, severity: 'info', message: state.completed_at ? `installed (profile ${state.profile}) ${state.completed_at}` : 'install in progress or interrupted', hint: null };
}

async function backupCheck(dir: string): Promise<PreflightCheck> {
  const { listArchives } = await import('../backup/store.js');
  const archives = await listArchives(dir).catch(() => []);
  const newest = archives[0];
  if (!newest) return { id: 'backup', ok: false, severity: 'warning', message: `no backup in ${dir}`, hint: 'msting backup --encrypt' };
  const created = Date.parse(newest.created);
  const age = Number.isNaN(created) ? null : (Date.now() - created) / DAY;
  if (age !== null && age > BACKUP_MAX_AGE_DAYS) return { id: 'backup', ok: false, severity: 'warning', message: `the newest backup is ${Math.floor(age)} days old (${newest.name})`, hint: 'msting backup --encrypt' };
  return { id: 'backup', ok: true, severity: 'info', message: `newest backup ${newest.name} (${newest.created})`, hint: null };
}

async function makeBundle(
  path: string,
  ctx: Context,
  input: { checks: PreflightCheck[]; status: StatusReport | null; vaultState: string | null; engine: ReturnType<typeof createDockerEngine>; containers: ContainerInfo[]; config: Awaited<ReturnType<typeof loadConfig>>['config'] },
): Promise<{ path: string; files: string[] }> {
  const redactor = createRedactor(await collectSecretValues(ctx.home));
  // Every secret Vault holds for the stack, when it can be read.
  if (input.vaultState === 'unsealed') {
    const { renderSecretsFromVault } = await import('../vault/render-secrets.js');
    const provider = await renderSecretsFromVault(input.config, ctx);
    redactor.add(SECRET_SPECS.map((s) => provider.get(s.id)).filter((v): v is string => typeof v === 'string'));
  }
  const extra: BundleEntry[] = [
    { name: 'doctor.json', content: `${JSON.stringify({ checks: input.checks, status: input.status }, null, 2)}\n` },
    { name: 'versions.json', content: `${JSON.stringify({ node: process.version, platform: process.platform, arch: process.arch }, null, 2)}\n` },
  ];
  for (const c of input.containers) {
    const lines: string[] = [];
    const controller = new AbortController();
    try {
      for await (const line of input.engine.logs(c.id, { follow: false, tail: BUNDLE_LOG_LINES, timestamps: true }, controller.signal)) lines.push(line.text);
    } catch {
      lines.push('(logs could not be read)');
    }
    extra.push({ name: `service-logs/${c.service}.log`, content: `${lines.join('\n')}\n` });
  }
  extra.push(await vaultAuditEntry(runningVaultContainer(input.containers, input.engine, createContainerExec(ctx.env))));
  return writeBundle(path, ctx.home, extra, redactor);
}
