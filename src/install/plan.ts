import type { InstallState } from './state.js';

/**
 * The install plan: which steps run, which are checked and skipped, and why. Pure: the journal
 * and the fingerprints of this run's inputs in, the plan out. `install --dry-run` prints it; the
 * executor runs it.
 */

export const INSTALL_STEPS = [
  { id: 'preflight', title: 'check Docker, Compose, memory, disk, ports and permissions', policy: 'always' },
  { id: 'directories', title: 'create the install directories with their modes', policy: 'always' },
  { id: 'config', title: 'write config.yml from the built-in default when there is none', policy: 'always' },
  { id: 'hardware', title: 'detect CPU, memory, GPUs and what Docker can use', policy: 'always' },
  { id: 'certificates', title: 'create the local certificate authority and the TLS certificate', policy: 'verify' },
  { id: 'render', title: 'render the compose file, env files and service configs', policy: 'always' },
  { id: 'images', title: 'pull (or build) the images that are missing', policy: 'verify' },
  { id: 'vault', title: 'start Vault, initialize and unseal it', policy: 'verify' },
  { id: 'secrets', title: 'generate the stack secrets and render the env files with them', policy: 'verify' },
  { id: 'database', title: 'start PostgreSQL and wait until it is healthy', policy: 'verify' },
  { id: 'auth-migration', title: 'run the Kratos database migration', policy: 'verify' },
  { id: 'services', title: 'start the rest of the profile and wait for health', policy: 'verify' },
  { id: 'models', title: 'download the enabled models', policy: 'verify' },
  { id: 'summary', title: 'show URLs and next steps', policy: 'always' },
] as const satisfies ReadonlyArray<{ id: string; title: string; policy: StepPolicy }>;

/**
 * always: cheap and idempotent, run on every install; verify: skipped when the journal says it
 * finished with the same inputs and a cheap check confirms it still holds (Vault unsealed,
 * services healthy, images present).
 */
export type StepPolicy = 'always' | 'verify';
export type InstallStepId = (typeof INSTALL_STEPS)[number]['id'];
export const STEP_IDS: readonly InstallStepId[] = INSTALL_STEPS.map((s) => s.id);

/** run: do it; check: done before, confirm it still holds, do it again if not; skip: not this time. */
export type StepAction = 'run' | 'check' | 'skip';

export interface PlannedStep {
  id: InstallStepId;
  title: string;
  action: StepAction;
  reason: string;
  fingerprint: string | null;
}

export interface InstallPlan {
  profile: string;
  /** A journal exists from an earlier run. */
  resuming: boolean;
  steps: PlannedStep[];
}

export interface PlanInstallInput {
  state: InstallState | undefined;
  profile: string;
  /** Fingerprint of each step's inputs (null: the step has none worth comparing). */
  fingerprints: Partial<Record<InstallStepId, string | null>>;
  /** Steps left out this time, with the reason (e.g. models with --skip-models). */
  skip: Partial<Record<InstallStepId, string>>;
}

export function planInstall(input: PlanInstallInput): InstallPlan {
  const { state } = input;
  const profileChanged = state !== undefined && state.profile !== input.profile;
  const steps = INSTALL_STEPS.map((spec): PlannedStep => {
    const fingerprint = input.fingerprints[spec.id] ?? null;
    const base = { id: spec.id, title: spec.title, fingerprint };
    const skipReason = input.skip[spec.id];
    if (skipReason !== undefined) return { ...base, action: 'skip', reason: skipReason };
    if (spec.policy === 'always') return { ...base, action: 'run', reason: 'runs on every install (cheap, changes nothing when done)' };
    const record = state?.steps[spec.id];
    if (!record) return { ...base, action: 'run', reason: 'not done yet' };
    if (record.status === 'failed') return { ...base, action: 'run', reason: `failed last time: ${record.error?.message ?? 'unknown error'}` };
    if (profileChanged) return { ...base, action: 'run', reason: `the profile changed from ${state!.profile} to ${input.profile}` };
    if (record.fingerprint !== fingerprint) return { ...base, action: 'run', reason: 'its inputs changed since it was done' };
    return { ...base, action: 'check', reason: `done ${record.finished_at}; checked again before it is skipped` };
  });
  return { profile: input.profile, resuming: state !== undefined, steps };
}
