import { MstingError, isMstingError } from '../errors.js';
import type { InstallPlan, InstallStepId, PlannedStep } from './plan.js';
import type { RunLog } from './run-log.js';
import type { StateJournal } from './state.js';

/**
 * Runs an install plan step by step: each step's outcome is written to the journal as soon as it
 * finishes, and to the run log. A step planned as `check` runs its verification first and is
 * skipped when that holds. A failure stops the run, is recorded, and comes back as one error that
 * names the step, the reason and what to run next.
 */

export interface StepResult {
  /** Facts to keep in the journal and the log (never a secret). */
  detail?: Record<string, unknown>;
}

export interface StepImpl {
  run(): Promise<StepResult | void>;
  /** Cheap confirmation that what the step did still holds. */
  verify?(): Promise<boolean>;
}

export type StepOutcome = 'done' | 'skipped' | 'failed';

export interface StepEvent {
  step: InstallStepId;
  title: string;
  state: 'running' | 'checking' | StepOutcome;
  /** Why skipped, or what failed. */
  reason?: string;
  durationMs?: number;
  detail?: Record<string, unknown>;
}

export interface ExecuteInstallOptions {
  journal: StateJournal;
  log: RunLog;
  signal: AbortSignal;
  onStep?: (event: StepEvent) => void;
  now?: () => Date;
}

export interface InstallRunResult {
  steps: { id: InstallStepId; outcome: StepOutcome; reason?: string; durationMs: number }[];
}

function interrupted(step: PlannedStep): MstingError {
  return new MstingError('INTERRUPTED', `install interrupted during step "${step.id}"`, {
    hint: 'run `msting install` again: finished steps are skipped and it continues from this one',
  });
}

export async function executeInstall(plan: InstallPlan, impls: Record<InstallStepId, StepImpl>, options: ExecuteInstallOptions): Promise<InstallRunResult> {
  const now = options.now ?? (() => new Date());
  const { journal, log } = options;
  const result: InstallRunResult = { steps: [] };
  log.write({ event: 'install-start', profile: plan.profile, resuming: plan.resuming, plan: plan.steps.map((s) => ({ step: s.id, action: s.action, reason: s.reason })) });
  const emit = (event: StepEvent): void => {
    options.onStep?.(event);
    log.write({ event: 'step', step: event.step, state: event.state, ...(event.reason ? { reason: event.reason } : {}), ...(event.durationMs !== undefined ? { duration_ms: event.durationMs } : {}), ...(event.detail ? { detail: event.detail } : {}) });
  };

  for (const step of plan.steps) {
    if (options.signal.aborted) throw interrupted(step);
    const impl = impls[step.id];
    const t0 = Date.now();
    if (step.action === 'skip') {
      emit({ step: step.id, title: step.title, state: 'skipped', reason: step.reason });
      result.steps.push({ id: step.id, outcome: 'skipped', reason: step.reason, durationMs: 0 });
      continue;
    }
    try {
      if (step.action === 'check' && impl.verify) {
        emit({ step: step.id, title: step.title, state: 'checking' });
        if (await impl.verify()) {
          const durationMs = Date.now() - t0;
          emit({ step: step.id, title: step.title, state: 'skipped', reason: 'done before, still holds', durationMs });
          result.steps.push({ id: step.id, outcome: 'skipped', reason: 'done before, still holds', durationMs });
          continue;
        }
        emit({ step: step.id, title: step.title, state: 'running', reason: 'done before, but no longer holds: running it again' });
      } else {
        emit({ step: step.id, title: step.title, state: 'running', reason: step.reason });
      }
      const outcome = (await impl.run()) ?? {};
      if (options.signal.aborted) throw interrupted(step);
      const durationMs = Date.now() - t0;
      await journal.record(step.id, { status: 'done', finished_at: now().toISOString(), duration_ms: durationMs, fingerprint: step.fingerprint, ...(outcome.detail ? { detail: outcome.detail } : {}) });
      emit({ step: step.id, title: step.title, state: 'done', durationMs, ...(outcome.detail ? { detail: outcome.detail } : {}) });
      result.steps.push({ id: step.id, outcome: 'done', durationMs });
    } catch (err) {
      const durationMs = Date.now() - t0;
      const error = options.signal.aborted && !(isMstingError(err) && err.code !== 'INTERRUPTED') ? interrupted(step) : toMstingError(err);
      await journal.record(step.id, {
        status: 'failed',
        finished_at: now().toISOString(),
        duration_ms: durationMs,
        fingerprint: step.fingerprint,
        error: { code: error.code, message: error.message, hint: error.hint ?? null },
      });
      emit({ step: step.id, title: step.title, state: 'failed', reason: error.message, durationMs });
      log.write({ event: 'install-failed', step: step.id, code: error.code, message: error.message, hint: error.hint ?? null, details: error.details });
      if (error.code === 'INTERRUPTED') throw error;
      throw new MstingError(error.code, `install step "${step.id}" (${step.title}) failed: ${error.message}`, {
        exitCode: error.exitCode,
        details: error.details,
        hint: `${error.hint ? `${error.hint}; then ` : ''}run \`msting install\` again: the finished steps are skipped and it continues from "${step.id}"`,
        cause: err,
      });
    }
  }
  await journal.complete(now());
  log.write({ event: 'install-complete', profile: plan.profile });
  return result;
}

function toMstingError(err: unknown): MstingError {
  if (isMstingError(err)) return err;
  if (err instanceof Error && err.name === 'AbortError') return new MstingError('INTERRUPTED', 'interrupted');
  return new MstingError('FAILURE', err instanceof Error ? err.message : String(err), { cause: err });
}
