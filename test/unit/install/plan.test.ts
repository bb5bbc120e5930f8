import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { executeInstall, type StepImpl } from '../../../src/install/execute.js';
import { planInstall, STEP_IDS, type InstallStepId } from '../../../src/install/plan.js';
import { nullRunLog, openRunLog } from '../../../src/install/run-log.js';
import { emptyState, readState, StateJournal, type InstallState } from '../../../src/install/state.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'msting-install-'));
});
afterEach(async () => rm(dir, { recursive: true, force: true }));

const fp = { certificates: 'c1', images: 'i1', vault: 'v1', secrets: 's1', database: 'd1', 'auth-migration': 'a1', services: 'x1', models: 'm1' };

function stateWith(steps: Partial<Record<InstallStepId, 'done' | 'failed'>>, fingerprints: Record<string, string> = fp, profile = 'default'): InstallState {
  const s = emptyState(profile, '0.1.0', new Date('2026-01-01T00:00:00Z'));
  for (const [id, status] of Object.entries(steps)) {
    s.steps[id] = { status: status!, finished_at: '2026-01-01T00:00:01Z', duration_ms: 1, fingerprint: fingerprints[id] ?? null, ...(status === 'failed' ? { error: { code: 'EXTERNAL', message: 'db did not come up', hint: null } } : {}) };
  }
  return s;
}

function impls(calls: string[], overrides: Partial<Record<InstallStepId, StepImpl>> = {}): Record<InstallStepId, StepImpl> {
  return Object.fromEntries(
    STEP_IDS.map((id) => [
      id,
      overrides[id] ?? {
        run: async () => {
          calls.push(`run:${id}`);
          return { detail: { id } };
        },
        verify: async () => {
          calls.push(`verify:${id}`);
          return true;
        },
      },
    ]),
  ) as Record<InstallStepId, StepImpl>;
}

describe('install planner', () => {
  it('a fresh install runs every step, models skipped with the reason', () => {
    const plan = planInstall({ state: undefined, profile: 'default', fingerprints: fp, skip: { models: '--skip-models' } });
    expect(plan.resuming).toBe(false);
    expect(plan.steps.map((s) => [s.id, s.action])).toEqual(STEP_IDS.map((id) => [id, id === 'models' ? 'skip' : 'run']));
    expect(plan.steps.find((s) => s.id === 'models')!.reason).toBe('--skip-models');
  });

  it('after an interruption: done steps are checked, the failed one and the rest run', () => {
    const state = stateWith({ preflight: 'done', certificates: 'done', images: 'done', vault: 'done', secrets: 'done', database: 'failed' });
    const plan = planInstall({ state, profile: 'default', fingerprints: fp, skip: {} });
    const action = (id: InstallStepId) => plan.steps.find((s) => s.id === id)!;
    expect(plan.resuming).toBe(true);
    expect(['certificates', 'images', 'vault', 'secrets'].map((id) => action(id as InstallStepId).action)).toEqual(['check', 'check', 'check', 'check']);
    expect(action('database')).toMatchObject({ action: 'run', reason: 'failed last time: db did not come up' });
    expect(action('services')).toMatchObject({ action: 'run', reason: 'not done yet' });
    // Cheap, idempotent steps run every time.
    expect(action('preflight').action).toBe('run');
    expect(action('render').action).toBe('run');
  });

  it('a changed input makes a done step run again; a changed profile makes every step run', () => {
    const state = stateWith({ images: 'done', vault: 'done' });
    const plan = planInstall({ state, profile: 'default', fingerprints: { ...fp, images: 'i2' }, skip: {} });
    expect(plan.steps.find((s) => s.id === 'images')).toMatchObject({ action: 'run', reason: 'its inputs changed since it was done' });
    expect(plan.steps.find((s) => s.id === 'vault')!.action).toBe('check');
    const other = planInstall({ state, profile: 'observability', fingerprints: fp, skip: {} });
    expect(other.steps.find((s) => s.id === 'vault')!.reason).toMatch(/profile changed from default to observability/);
  });
});

describe('install executor and journal', () => {
  it('records each step as it finishes, skips verified ones, and completes', async () => {
    const path = join(dir, 'state.json');
    const state = stateWith({ certificates: 'done', images: 'done' });
    const plan = planInstall({ state, profile: 'default', fingerprints: fp, skip: { models: '--skip-models' } });
    const calls: string[] = [];
    const journal = new StateJournal(path, state);
    const result = await executeInstall(plan, impls(calls), { journal, log: nullRunLog(), signal: new AbortController().signal });
    expect(calls).toContain('verify:images');
    expect(calls).not.toContain('run:images');
    expect(calls).toContain('run:vault');
    expect(result.steps.find((s) => s.id === 'images')!.outcome).toBe('skipped');
    const saved = (await readState(path))!;
    expect(saved.completed_at).not.toBeNull();
    expect(saved.steps.vault).toMatchObject({ status: 'done', fingerprint: 'v1', detail: { id: 'vault' } });
    expect(saved.steps.models).toBeUndefined();
  });

  it('a check that no longer holds runs the step again', async () => {
    const state = stateWith({ vault: 'done' });
    const calls: string[] = [];
    const plan = planInstall({ state, profile: 'default', fingerprints: fp, skip: {} });
    await executeInstall(plan, impls(calls, { vault: { run: async () => void calls.push('run:vault'), verify: async () => false } }), {
      journal: new StateJournal(null, state),
      log: nullRunLog(),
      signal: new AbortController().signal,
    });
    expect(calls).toContain('run:vault');
  });

  it('a failure is journaled and named with the step and what to run next; the next plan resumes there', async () => {
    const path = join(dir, 'state.json');
    const journal = new StateJournal(path, emptyState('default', '0.1.0', new Date()));
    const plan = planInstall({ state: undefined, profile: 'default', fingerprints: fp, skip: {} });
    const calls: string[] = [];
    const failing = impls(calls, {
      database: {
        run: async () => {
          const { MstingError } = await import('../../../src/errors.js');
          throw new MstingError('EXTERNAL', 'db did not come up', { hint: 'msting logs db' });
        },
      },
    });
    const log = await openRunLog(join(dir, 'logs', 'msting.log'), { command: 'install' });
    const err = (await executeInstall(plan, failing, { journal, log, signal: new AbortController().signal }).then(
      () => undefined,
      (e: unknown) => e,
    )) as Error & { hint: string; exitCode: number };
    await log.close();
    expect(err.message).toMatch(/install step "database" .* failed: db did not come up/);
    expect(err.hint).toMatch(/msting logs db; then run `msting install` again.*continues from "database"/);
    expect(err.exitCode).toBe(5);
    expect(calls).not.toContain('run:services');
    const saved = (await readState(path))!;
    expect(saved.steps.database).toMatchObject({ status: 'failed', error: { code: 'EXTERNAL', message: 'db did not come up' } });
    expect(saved.steps.vault!.status).toBe('done');
    const next = planInstall({ state: saved, profile: 'default', fingerprints: fp, skip: {} });
    expect(next.steps.find((s) => s.id === 'vault')!.action).toBe('check');
    expect(next.steps.find((s) => s.id === 'database')!.action).toBe('run');
    const lines = (await readFile(join(dir, 'logs', 'msting.log'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.at(-1)).toMatchObject({ event: 'install-failed', step: 'database', code: 'EXTERNAL' });
  });

  it('Ctrl-C stops between steps with exit 130 and leaves a complete journal', async () => {
    const path = join(dir, 'state.json');
    const controller = new AbortController();
    const calls: string[] = [];
    const plan = planInstall({ state: undefined, profile: 'default', fingerprints: fp, skip: {} });
    const err = await executeInstall(
      plan,
      impls(calls, {
        vault: {
          run: async () => {
            calls.push('run:vault');
            controller.abort();
          },
        },
      }),
      { journal: new StateJournal(path, emptyState('default', '0.1.0', new Date())), log: nullRunLog(), signal: controller.signal },
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'INTERRUPTED', exitCode: 130 });
    expect(calls).not.toContain('run:secrets');
    const saved = JSON.parse(await readFile(path, 'utf8')) as InstallState;
    expect(saved.steps.images!.status).toBe('done');
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('the run log redacts secrets it was told about and credential-shaped strings', async () => {
    const log = await openRunLog(join(dir, 'msting.log'), { command: 'install', secrets: ['s3cr3t-value-123'] });
    log.write({ event: 'info', message: 'connecting with s3cr3t-value-123 and hvs.CAESIabcdefghijklmnopqrstuvwxyz012345', password: 'hunter22' });
    await log.close();
    const text = await readFile(join(dir, 'msting.log'), 'utf8');
    expect(text).not.toContain('s3cr3t-value-123');
    expect(text).not.toContain('hvs.CAESI');
    expect(text).not.toContain('hunter22');
    expect(JSON.parse(text)).toMatchObject({ event: 'info', command: 'install', password: '[redacted]' });
  });
});
