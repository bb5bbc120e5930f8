import { createHash } from 'node:crypto';
import { access, chmod, mkdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { MstingConfig } from '../config/schema.js';
import type { ComposeCli, ComposeProject } from '../docker/compose-cli.js';
import type { DockerEngine } from '../docker/engine.js';
import { MstingError } from '../errors.js';
import { writeFileAtomic } from '../files/atomic-write.js';
import type { HardwareProfile, Recommendation } from '../hardware/types.js';
import { cpuFallbackRecommendation } from '../hardware/types.js';
import { DIR_MODES, installLayout, modelsDir, type InstallLayout } from '../layout.js';
import { checkPorts, type PortReport } from '../lifecycle/ports.js';
import { renderForStart } from '../lifecycle/render-step.js';
import { modelCommitsFor } from '../models/snapshots.js';
import { executeStart, judge, planStart, type StartResult, type StartState } from '../lifecycle/start.js';
import { buildStatus, statusUrls, type StatusUrls } from '../lifecycle/status.js';
import type { ProgressListener } from '../models/progress.js';
import { evaluatePreflight, type PreflightReport } from '../preflight/checks.js';
import { gatherPreflight } from '../preflight/gather.js';
import { quickPlan } from '../render/quick-plan.js';
import { renderStack } from '../render/render-stack.js';
import { certificateNames, describeCertificate, ensureLocalCertificates, judgeCertificate, CERT_FILES } from '../ssl/local-ca.js';
import { enabledModels, modelServices, resolveProfileServices, type StackPlan } from '../stack/plan.js';
import { NO_SECRETS, SECRET_SPECS, type SecretsProvider } from '../stack/secrets.js';
import type { VaultStatus } from '../vault/status.js';
import { VAULT_FILES } from '../vault/store.js';
import { ensureImages } from './images.js';
import type { BundleSource } from '../bundle/source.js';
import type { StepImpl } from './execute.js';
import type { InstallStepId } from './plan.js';

/**
 * What each install step does, bound to the real systems: Docker (engine and compose CLI),
 * Vault, the hardware probe, the model hub. The executor (./execute.ts) decides whether a step
 * runs; this module only knows how.
 */

export interface InstallOptions {
  profile: string;
  skipModels: boolean;
  /** Resource shortfalls of a strict profile do not stop the install. */
  force: boolean;
  /** Seconds to wait for each group of services. */
  timeoutS: number;
}

export interface InstallCallbacks {
  onPreflight?(report: PreflightReport): void;
  onServiceState?(service: string, state: StartState, detail?: string): void;
  /** A line of pull, build or compose output. */
  onLine?(line: string): void;
  onImage?(service: string, image: string, action: 'pull' | 'build' | 'present' | 'done'): void;
  onVault?(message: string): void;
  onModelProgress?: ProgressListener;
  onInfo?(message: string): void;
}

/** Outside systems, replaceable in tests. */
export interface InstallSystems {
  engine: DockerEngine;
  compose: ComposeCli;
  probeHardware(): Promise<{ profile: HardwareProfile; recommendation: Recommendation }>;
  /** The Vault part: start is done by the flow; this initializes, unseals and reports. */
  vault: {
    initAndUnseal(onMessage: (m: string) => void): Promise<{ initializedNow: boolean; sharesPath: string | null; autoUnseal: boolean; warnings: string[] }>;
    status(): Promise<VaultStatus>;
    /** The Vault-backed secrets provider, or NO_SECRETS with the reason when Vault cannot be read. */
    secrets(onUnavailable: (reason: string) => void): Promise<SecretsProvider>;
  };
  downloadModels(onProgress?: ProgressListener): Promise<{ name: string; fetched: number; size: number }[]>;
  /** Starter config.yml text. */
  starterConfig(): Promise<string>;
  /**
   * `--bundle FILE`, verified: the images step loads its images (and models) instead of pulling
   * or building, and the models step takes the bundle's models instead of downloading.
   */
  bundle?: BundleSource;
}

export interface InstallInput {
  home: string;
  configPath: string;
  config: MstingConfig;
  env: NodeJS.ProcessEnv;
  signal: AbortSignal;
  options: InstallOptions;
  systems: InstallSystems;
  callbacks: InstallCallbacks;
}

/** What the summary step shows. */
export interface InstallSummary {
  profile: string;
  urls: StatusUrls;
  vault: { sharesPath: string | null; autoUnseal: boolean | null };
  models: string[];
  caCert: string | null;
}

export function hashOf(value: unknown): string {
  return `sha256:${createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 32)}`;
}

/** Whether the profile runs model services (then the hardware recommendation shapes the render). */
export function profileRunsModels(config: MstingConfig, profile: string): boolean {
  return resolveProfileServices(config, profile).includes('llm-gateway');
}


/** Fingerprints of each step's inputs: a step done with other inputs runs again. */
export function installFingerprints(config: MstingConfig, profile: string, plan: StackPlan): Partial<Record<InstallStepId, string | null>> {
  const configHash = hashOf({ config, profile });
  const images = [...new Set(plan.services.map((s) => s.image))].sort();
  return {
    certificates: hashOf(certificateNames(config.hostname)),
    images: hashOf({ images, source: config.images.source_dir ?? null }),
    vault: hashOf({ mode: config.vault.mode, shares: config.vault.shares, threshold: config.vault.threshold }),
    secrets: hashOf(SECRET_SPECS.map((s) => s.id)),
    database: configHash,
    'auth-migration': configHash,
    services: hashOf({ configHash, images }),
    models: hashOf(enabledModels(config).map((m) => [m.name, m.repo, m.revision])),
  };
}

/** Steps left out this run, with the reason. */
export function skippedSteps(config: MstingConfig, profile: string, skipModels: boolean): Partial<Record<InstallStepId, string>> {
  if (skipModels) return { models: '--skip-models' };
  if (!profileRunsModels(config, profile)) return { models: `profile ${profile} runs no models` };
  if (enabledModels(config).length === 0) return { models: 'no model is enabled (llm.models[].enabled)' };
  return {};
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

async function composeProject(config: MstingConfig, layout: InstallLayout, profile: string): Promise<ComposeProject> {
  const files = [layout.composeFile];
  if (await exists(layout.composeOverrideFile)) files.push(layout.composeOverrideFile);
  return { name: config.project.name, files, profile };
}

/** Directories of the install and their modes: secrets and env files are the owner's alone. */
export function installDirectories(layout: InstallLayout): { path: string; mode: number }[] {
  return [
    { path: layout.home, mode: DIR_MODES.home },
    { path: layout.confDir, mode: DIR_MODES.default },
    { path: layout.composeDir, mode: DIR_MODES.default },
    { path: layout.serviceConfigDir, mode: DIR_MODES.default },
    { path: layout.envDir, mode: DIR_MODES.env },
    { path: layout.secretsDir, mode: DIR_MODES.secrets },
    { path: layout.certsDir, mode: DIR_MODES.default },
    { path: layout.logsDir, mode: DIR_MODES.default },
    { path: layout.backupsDir, mode: 0o700 },
  ];
}

function startFailure(what: string, result: StartResult): MstingError {
  const failed = result.outcomes.filter((o) => o.state === 'failed' || o.state === 'skipped');
  return new MstingError('EXTERNAL', `${what}: ${failed.map((o) => o.service).join(', ')} did not come up`, {
    details: failed.map((o) => `${o.service}: ${o.detail ?? o.state}`),
    hint: `\`msting logs ${failed[0]?.service ?? ''}\` shows why; containers and volumes were left for inspection`,
  });
}

/**
 * The step implementations of one install run. State that later steps need (the rendered plan,
 * the recommendation, the Vault outcome) is kept in this closure.
 */
export function installSteps(input: InstallInput): { steps: Record<InstallStepId, StepImpl>; summary: () => Promise<InstallSummary> } {
  const { config, options, systems, callbacks, signal, env } = input;
  const layout = installLayout(input.home);
  const profile = options.profile;
  const runsModels = profileRunsModels(config, profile);
  let recommendation: Recommendation = cpuFallbackRecommendation(config.llm.models);
  let plan: StackPlan = quickPlan(config, profile, env);
  let vaultOutcome: { sharesPath: string | null; autoUnseal: boolean | null } | null = null;
  let models: string[] = [];
  const mdir = modelsDir(env, process.platform, homedir());

  const startDeps = async () => ({ engine: systems.engine, compose: systems.compose, project: await composeProject(config, layout, profile) });
  const bringUp = async (what: string, services: string[]): Promise<StartResult> => {
    const result = await executeStart(planStart(plan, services), await startDeps(), {
      timeoutS: options.timeoutS,
      signal,
      onState: (service, state, detail) => callbacks.onServiceState?.(service, state, detail),
      onComposeLine: (line) => callbacks.onLine?.(line),
    });
    if (result.failed.length > 0) throw startFailure(what, result);
    return result;
  };
  const containerOk = async (service: string): Promise<boolean> => {
    const c = (await systems.engine.listContainers(config.project.name)).find((x) => x.service === service);
    const item = plan.services.find((s) => s.name === service);
    if (!c || !item) return false;
    return judge(item.health === null ? 'completed' : 'healthy', await systems.engine.inspectContainer(c.id)).done;
  };
  const render = async (secrets: SecretsProvider) => {
    const rendered = await renderForStart({ config, profile, home: input.home, env, recommendation, secrets, signal });
    plan = rendered.plan;
    return rendered;
  };
  const vaultSecrets = () => systems.vault.secrets((reason) => callbacks.onInfo?.(`Vault secrets not readable yet: ${reason}`));
  const portReport = async (): Promise<PortReport> => {
    const [own, running] = await Promise.all([systems.engine.listContainers(config.project.name), systems.engine.listRunningContainers()]);
    const ownIds = new Set(own.map((c) => c.id));
    const endpoint = systems.engine.endpoint;
    const local = endpoint.kind === 'unix' || (endpoint.kind === 'tcp' && ['localhost', '127.0.0.1', '::1'].includes(endpoint.host));
    return checkPorts({ plan, ownContainers: own, otherContainers: running.filter((c) => !ownIds.has(c.id)), bindLocally: local });
  };

  /** Load the bundle (once) and confirm every image of the profile is now here: nothing is pulled. */
  const imagesFromBundle = async (bundle: BundleSource): Promise<Record<string, unknown>> => {
    const images = [...new Set(plan.services.map((s) => s.image))];
    const r = await bundle.load();
    for (const image of r.images) callbacks.onImage?.('bundle', image, 'done');
    const missing = (await Promise.all(images.map(async (i) => ((await systems.engine.imagePresent(i)) ? null : i)))).filter((i): i is string => i !== null);
    if (missing.length > 0) {
      throw new MstingError('BUNDLE_MISMATCH', `the bundle does not hold ${missing.length === 1 ? 'the image' : 'these images'} of this config: ${missing.join(', ')}`, {
        details: [`the bundle holds: ${bundle.manifest.images.map((i) => i.reference).join(', ')}`],
        hint: 'the config names other images than the one the bundle was made from (images.version, images.overrides): use the bundle\'s config.yml, or create the bundle from this config',
      });
    }
    return { bundle: bundle.file, loaded: r.images, present: images.length };
  };

  const steps: Record<InstallStepId, StepImpl> = {
    preflight: {
      async run() {
        const preferred = ['redis', 'db', 'vault', 'mailpit'];
        const images = [...plan.services].sort((a, b) => (preferred.indexOf(a.name) + 1 || 99) - (preferred.indexOf(b.name) + 1 || 99)).map((s) => s.image);
        const facts = await gatherPreflight({
          profile,
          runsModels,
          force: options.force,
          home: input.home,
          env,
          engine: systems.engine,
          compose: systems.compose,
          probeImages: [...new Set(images)],
          ports: portReport,
          signal,
        });
        const report = evaluatePreflight(facts);
        callbacks.onPreflight?.(report);
        const failed = report.checks.filter((c) => !c.ok && c.severity === 'error');
        if (failed.length > 0) {
          throw new MstingError('PREFLIGHT', `${failed.length} preflight check${failed.length === 1 ? '' : 's'} failed; nothing was changed`, {
            details: failed.map((c) => `${c.id}: ${c.message}${c.hint ? ` (${c.hint})` : ''}`),
            hint: 'fix what is listed above',
          });
        }
        return { detail: { checks: report.checks.map((c) => ({ id: c.id, ok: c.ok, severity: c.severity })) } };
      },
    },

    directories: {
      async run() {
        for (const d of installDirectories(layout)) {
          await mkdir(d.path, { recursive: true, mode: d.mode });
          await chmod(d.path, d.mode);
        }
        return { detail: { home: layout.home } };
      },
    },

    config: {
      async run() {
        if (await exists(input.configPath)) return { detail: { written: false, path: input.configPath } };
        await writeFileAtomic(input.configPath, await systems.starterConfig(), { mode: 0o644 });
        return { detail: { written: true, path: input.configPath } };
      },
    },

    hardware: {
      async run() {
        const probed = await systems.probeHardware();
        // The same rule as `start`: the hardware shapes the render only where models run, so a
        // later start renders exactly what install rendered.
        if (runsModels) recommendation = probed.recommendation;
        const p = probed.profile;
        return {
          detail: {
            cpus: p.cpu.threads,
            memory_bytes: p.memory.cgroupLimitBytes ?? p.memory.totalBytes,
            gpus: p.gpus.map((g) => g.name),
            device: probed.recommendation.device,
            used_for_render: runsModels,
          },
        };
      },
    },

    certificates: {
      async verify() {
        const pem = await readFile(join(layout.certsDir, CERT_FILES.cert), 'utf8').catch(() => undefined);
        const keyThere = await exists(join(layout.certsDir, CERT_FILES.key));
        if (!pem || !keyThere) return false;
        try {
          return judgeCertificate(describeCertificate(pem), certificateNames(config.hostname), new Date()).ok;
        } catch {
          return false;
        }
      },
      async run() {
        const r = await ensureLocalCertificates({ certsDir: layout.certsDir, secretsDir: layout.secretsDir, names: certificateNames(config.hostname) });
        return { detail: { ca_created: r.caCreated, cert_created: r.certCreated, reason: r.reason, names: r.names, not_after: r.notAfter } };
      },
    },

    render: {
      async run() {
        // Once Vault holds the secrets, every render uses them (a re-run after Vault was set up).
        const status = await systems.vault.status().catch(() => undefined);
        const secrets = status?.state === 'unsealed' ? await vaultSecrets() : NO_SECRETS;
        const r = await render(secrets);
        for (const w of r.plan.warnings) callbacks.onInfo?.(w);
        return { detail: { written: r.report.written.length, unchanged: r.report.unchanged.length, removed: r.report.removed.length, pending_secrets: r.pendingSecrets.length } };
      },
    },

    images: {
      async verify() {
        const images = [...new Set(plan.services.map((s) => s.image))];
        const present = await Promise.all(images.map((i) => systems.engine.imagePresent(i)));
        return present.every(Boolean);
      },
      async run() {
        if (systems.bundle) return { detail: await imagesFromBundle(systems.bundle) };
        const r = await ensureImages(config, plan, {
          engine: systems.engine,
          compose: systems.compose,
          project: await composeProject(config, layout, profile),
          env,
          signal,
          onLine: (line) => callbacks.onLine?.(line),
          onImage: (service, image, action) => callbacks.onImage?.(service, image, action),
        });
        return { detail: { pulled: r.pulled, built: r.built, present: r.present.length } };
      },
    },

    vault: {
      async verify() {
        const status = await systems.vault.status();
        return status.state === 'unsealed' && (await containerOk('vault'));
      },
      async run() {
        await bringUp('Vault', ['vault']);
        const r = await systems.vault.initAndUnseal((m) => callbacks.onVault?.(m));
        vaultOutcome = { sharesPath: r.sharesPath, autoUnseal: r.autoUnseal };
        for (const w of r.warnings) callbacks.onInfo?.(w);
        return { detail: { initialized_now: r.initializedNow, shares_path: r.sharesPath, auto_unseal: r.autoUnseal } };
      },
    },

    secrets: {
      async verify() {
        // Every secret readable from Vault, and the env files on disk exactly what a render with them gives.
        const provider = await vaultSecrets();
        // Only the env files are compared, and the schema SQL is in none of them.
        const rendered = renderStack({ config, recommendation, profile, secrets: provider, modelsDir: mdir, modelCommits: await modelCommitsFor(config, profile, mdir), schema: null });
        if (rendered.pendingSecrets.length > 0) return false;
        for (const [path, file] of rendered.files) {
          if (!file.secret) continue;
          const onDisk = await readFile(join(input.home, path), 'utf8').catch(() => undefined);
          if (onDisk !== file.content) return false;
        }
        return true;
      },
      async run() {
        const provider = await vaultSecrets();
        const r = await render(provider);
        if (r.pendingSecrets.length > 0) {
          throw new MstingError('VAULT', `${r.pendingSecrets.length} secret${r.pendingSecrets.length === 1 ? ' is' : 's are'} still missing after Vault was set up: ${r.pendingSecrets.map((p) => p.id).join(', ')}`, {
            hint: 'run `msting vault init` to generate them, and check `msting vault status`',
          });
        }
        return { detail: { env_files_written: r.report.written.filter((p) => p.startsWith('env/')).length } };
      },
    },

    database: {
      verify: () => containerOk('db'),
      async run() {
        const r = await bringUp('the database', ['db']);
        return { detail: { changed: r.changed } };
      },
    },

    'auth-migration': {
      verify: () => containerOk('kratos-migrate'),
      async run() {
        if (!plan.services.some((s) => s.name === 'kratos-migrate')) return { detail: { skipped: 'not in this profile' } };
        const r = await bringUp('the Kratos migration', ['kratos-migrate']);
        return { detail: { changed: r.changed } };
      },
    },

    services: {
      async verify() {
        const containers = await systems.engine.listContainers(config.project.name);
        return buildStatus({ plan, config, containers }).healthy;
      },
      async run() {
        const r = await bringUp(`profile ${profile}`, []);
        return { detail: { services: r.outcomes.length, started: r.outcomes.filter((o) => o.acted).map((o) => o.service) } };
      },
    },

    models: {
      async verify() {
        // The journal holds the verified download of these exact models (fingerprint); re-hashing
        // gigabytes on every install is `msting models verify`'s job.
        const services = modelServices(config, recommendation).map((m) => m.model.name);
        models = [...new Set(services)];
        return true;
      },
      async run() {
        if (systems.bundle) {
          const loaded = (await systems.bundle.load()).models;
          models = loaded.map((m) => m.name);
          return { detail: { models: loaded.map((m) => ({ name: m.name, size: m.size, fetched: 0 })), bundle: systems.bundle.file } };
        }
        const r = await systems.downloadModels(callbacks.onModelProgress);
        models = r.map((m) => m.name);
        return { detail: { models: r.map((m) => ({ name: m.name, size: m.size, fetched: m.fetched })) } };
      },
    },

    summary: {
      async run() {
        return { detail: { urls: statusUrls(config, new Set(plan.services.map((s) => s.name))) } };
      },
    },
  };

  const summary = async (): Promise<InstallSummary> => {
    // A run that skipped the Vault step still says where the shares are.
    const stored = join(layout.secretsDir, VAULT_FILES.unsealKeys);
    const vault = vaultOutcome ?? ((await exists(stored)) ? { sharesPath: stored, autoUnseal: config.vault.auto_unseal } : { sharesPath: null, autoUnseal: null });
    const caCert = join(layout.certsDir, CERT_FILES.caCert);
    return { profile, urls: statusUrls(config, new Set(plan.services.map((s) => s.name))), vault, models, caCert: (await exists(caCert)) ? caCert : null };
  };
  return { steps, summary };
}
