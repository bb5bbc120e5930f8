import { hostname } from 'node:os';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../files/atomic-write.js';
import type { BackupEngine, ProjectContainer } from '../docker/backup-engine.js';

/**
 * What a backup killed in the middle (kill -9, a crash, a reboot of the host but not of Docker)
 * leaves behind, and how the next backup puts it right. Ctrl-C cleans up by itself; this is for the
 * runs that had no chance to.
 *
 * - Services paused for a volume copy stay frozen. Before pausing, a backup notes the containers in
 *   a journal file in the install directory (`.msting-backup-PID.paused`) and removes the note once
 *   they run again; a note whose process is gone names what to resume.
 * - Its tar helper container stays, holding the volume. Helpers carry the owner's host and pid
 *   (OWNER_LABEL in docker/backup-engine.ts).
 *
 * A process is judged gone only on this host (`kill(pid, 0)` fails with ESRCH); a note or helper of
 * another host, or of a process still alive, is left alone: it may be a backup running beside this one.
 */

const JOURNAL = /^\.msting-backup-(\d+)\.paused$/;

interface JournalFile {
  host: string;
  pid: number;
  containers: Array<{ id: string; name: string }>;
}

/**
 * The running backup's note of the services it has paused. A note that cannot be written (an
 * install directory this user may not write) does not stop the backup: it warns once that a kill
 * now would leave the services paused, and goes on without it.
 */
export class PauseJournal {
  private readonly path: string;
  private readonly paused = new Map<string, string>();
  private readonly onWarning: (message: string) => void;
  private unwritable = false;

  constructor(dir: string, onWarning: (message: string) => void = () => undefined, pid = process.pid) {
    this.path = join(dir, `.msting-backup-${pid}.paused`);
    this.onWarning = onWarning;
  }

  /** Note a container before pausing it. */
  async add(c: ProjectContainer): Promise<void> {
    this.paused.set(c.id, c.name);
    await this.write();
  }

  /** Forget a container once it runs again; the note goes with the last one. */
  async remove(c: ProjectContainer): Promise<void> {
    this.paused.delete(c.id);
    if (this.unwritable) return;
    if (this.paused.size > 0) await this.write();
    else await rm(this.path, { force: true });
  }

  private async write(): Promise<void> {
    if (this.unwritable) return;
    const body: JournalFile = { host: hostname(), pid: process.pid, containers: [...this.paused].map(([id, name]) => ({ id, name })) };
    await writeFileAtomic(this.path, `${JSON.stringify(body)}\n`, { mode: 0o600 }).catch((err: NodeJS.ErrnoException) => {
      this.unwritable = true;
      this.onWarning(
        `cannot note the paused services in ${this.path} (${err.code ?? err.message}): if this backup is killed, the next one cannot resume them; run backups as the user that installed msting`,
      );
    });
  }
}

/** Whether a process of this host is gone. EPERM means it exists under another user. */
export function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

export interface Recovered {
  /** Container names resumed. */
  resumed: string[];
  /** Helper containers removed. */
  helpers: number;
}

/** Resume what interrupted backups left paused and remove their helpers. Never throws for one item. */
export async function recoverInterrupted(engine: BackupEngine, journalDir: string, onWarning: (message: string) => void = () => undefined): Promise<Recovered> {
  const host = hostname();
  const resumed: string[] = [];
  for (const name of await readdir(journalDir).catch(() => [] as string[])) {
    const match = JOURNAL.exec(name);
    if (!match) continue;
    const path = join(journalDir, name);
    const note = await readFile(path, 'utf8').then((t) => JSON.parse(t) as JournalFile, () => undefined);
    if (note && (note.host !== host || !processGone(note.pid))) continue;
    for (const c of note?.containers ?? []) {
      // A container that is no longer paused (resumed by hand, restarted, removed) needs nothing.
      const state = await engine.containerState(c.id);
      if (state !== 'paused') continue;
      try {
        await engine.unpause(c.id);
        resumed.push(c.name);
      } catch {
        onWarning(`could not resume ${c.name}, left paused by an interrupted backup; run \`docker unpause ${c.name}\``);
      }
    }
    await rm(path, { force: true });
  }
  let helpers = 0;
  for (const h of await engine.listHelpers()) {
    const [owner, pid] = (h.owner ?? '').split('/');
    if (owner !== host || !pid || !/^\d+$/.test(pid) || !processGone(Number(pid))) continue;
    await engine.remove(h.id).then(
      () => (helpers += 1),
      () => onWarning(`could not remove the helper container ${h.id.slice(0, 12)} of an interrupted backup; run \`docker rm -f ${h.id.slice(0, 12)}\``),
    );
  }
  if (resumed.length > 0) onWarning(`resumed ${resumed.join(', ')}, left paused by a backup that was interrupted`);
  if (helpers > 0) onWarning(`removed ${helpers} helper container${helpers === 1 ? '' : 's'} left by a backup that was interrupted`);
  return { resumed, helpers };
}
