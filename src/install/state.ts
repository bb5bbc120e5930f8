import { readFile } from 'node:fs/promises';
import { MstingError } from '../errors.js';
import { writeFileAtomic } from '../files/atomic-write.js';

/**
 * The install journal, `state.json` in the install directory: which install step finished, when,
 * and from which inputs (a fingerprint). Rewritten atomically after every step, so a crash, a
 * Ctrl-C or a reboot leaves the last finished step recorded and nothing torn.
 */

export const STATE_VERSION = 1;

export type StepStatus = 'done' | 'failed';

export interface StepRecord {
  status: StepStatus;
  finished_at: string;
  duration_ms: number;
  /** Hash of the step's inputs; a changed fingerprint makes the step run again. Null: none. */
  fingerprint: string | null;
  /** Facts the step found (versions, counts); never a secret. */
  detail?: Record<string, unknown>;
  /** Why it failed: code, message and the command to run next. */
  error?: { code: string; message: string; hint: string | null };
}

export interface InstallState {
  version: typeof STATE_VERSION;
  profile: string;
  msting_version: string;
  started_at: string;
  updated_at: string;
  /** Set when every step of a run finished. */
  completed_at: string | null;
  steps: Record<string, StepRecord>;
}

export function emptyState(profile: string, mstingVersion: string, now: Date): InstallState {
  const t = now.toISOString();
  return { version: STATE_VERSION, profile, msting_version: mstingVersion, started_at: t, updated_at: t, completed_at: null, steps: {} };
}

/** The journal on disk, or undefined when there is none. A damaged file is an error naming it. */
export async function readState(path: string): Promise<InstallState | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new MstingError('IO', `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new MstingError('IO', `${path} is not valid JSON`, {
      hint: `move it aside (mv ${path} ${path}.broken) and run msting install again: every step checks what is already there`,
      cause: err,
    });
  }
  const state = parsed as Partial<InstallState>;
  if (state.version !== STATE_VERSION || typeof state.steps !== 'object' || state.steps === null) {
    throw new MstingError('IO', `${path} was written by another msting version (journal version ${String(state.version)})`, {
      hint: `move it aside (mv ${path} ${path}.old) and run msting install again`,
    });
  }
  return state as InstallState;
}

export async function writeState(path: string, state: InstallState): Promise<void> {
  await writeFileAtomic(path, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o644 });
}

/** A journal with one step recorded (pure). */
export function recordStep(state: InstallState, id: string, record: StepRecord): InstallState {
  return { ...state, updated_at: record.finished_at, completed_at: null, steps: { ...state.steps, [id]: record } };
}

/**
 * The journal of a run, kept in memory and written after every change. Writes are serialized:
 * the file always holds the latest complete journal.
 */
export class StateJournal {
  private current: InstallState;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    readonly path: string | null,
    initial: InstallState,
  ) {
    this.current = initial;
  }

  get state(): InstallState {
    return this.current;
  }

  step(id: string): StepRecord | undefined {
    return this.current.steps[id];
  }

  async record(id: string, record: StepRecord): Promise<void> {
    this.current = recordStep(this.current, id, record);
    await this.save();
  }

  async complete(now: Date): Promise<void> {
    this.current = { ...this.current, completed_at: now.toISOString(), updated_at: now.toISOString() };
    await this.save();
  }

  async setProfile(profile: string, mstingVersion: string): Promise<void> {
    if (this.current.profile === profile && this.current.msting_version === mstingVersion) return;
    this.current = { ...this.current, profile, msting_version: mstingVersion };
    await this.save();
  }

  private save(): Promise<void> {
    if (!this.path) return Promise.resolve();
    const path = this.path;
    const snapshot = this.current;
    this.chain = this.chain.then(() => writeState(path, snapshot));
    return this.chain;
  }
}
