import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, stat, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ownerValue, type BackupEngine, type ProjectContainer } from '../../../src/docker/backup-engine.js';
import { PauseJournal, processGone, recoverInterrupted } from '../../../src/backup/interrupted.js';

/** The pid of a process that has ended. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '']).pid!;
}

/** An engine with containers in given states and helper containers; records what was done. */
function fakeEngine(states: Record<string, string>, helpers: Array<{ id: string; owner: string | undefined }>) {
  const done: string[] = [];
  const engine = {
    containerState: async (id: string) => states[id] ?? 'missing',
    unpause: async (id: string) => {
      if (states[id] !== 'paused') throw new Error('not paused');
      states[id] = 'running';
      done.push(`unpause ${id}`);
    },
    listHelpers: async () => helpers,
    remove: async (id: string) => {
      done.push(`remove ${id}`);
    },
  } as unknown as BackupEngine;
  return { engine, done };
}

const container = (id: string, name: string): ProjectContainer => ({ id, name, service: name, state: 'running', image: 'i', imageId: 'i', env: {}, mounts: [] });

async function note(dir: string, pid: number, containers: Array<{ id: string; name: string }>, host = hostname()): Promise<void> {
  await writeFile(join(dir, `.msting-backup-${pid}.paused`), JSON.stringify({ host, pid, containers }));
}

describe('recovering from a killed backup', () => {
  it('resumes what a gone process left paused, removes its helpers, and says so', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'msting-recover-'));
    const gone = deadPid();
    await note(dir, gone, [{ id: 'k1', name: 'stack-knowledge-1' }, { id: 'm1', name: 'stack-mailpit-1' }]);
    // mailpit was resumed by hand since: nothing to do for it.
    const { engine, done } = fakeEngine({ k1: 'paused', m1: 'running' }, [{ id: 'h-gone', owner: ownerValue(gone) }, { id: 'h-live', owner: ownerValue() }]);
    const warnings: string[] = [];
    const recovered = await recoverInterrupted(engine, dir, (m) => warnings.push(m));
    expect(recovered).toEqual({ resumed: ['stack-knowledge-1'], helpers: 1 });
    expect(done).toEqual(['unpause k1', 'remove h-gone']);
    expect(await readdir(dir)).toEqual([]);
    expect(warnings).toEqual(['resumed stack-knowledge-1, left paused by a backup that was interrupted', 'removed 1 helper container left by a backup that was interrupted']);
  });

  it('leaves alone the notes and helpers of a running backup, of another host, and helpers without an owner', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'msting-recover-'));
    await note(dir, process.pid, [{ id: 'k1', name: 'stack-knowledge-1' }]);
    await note(dir, deadPid(), [{ id: 'v1', name: 'stack-vault-1' }], 'another-host');
    const { engine, done } = fakeEngine({ k1: 'paused', v1: 'paused' }, [
      { id: 'h-other', owner: `another-host/${deadPid()}` },
      { id: 'h-old', owner: undefined },
    ]);
    const warnings: string[] = [];
    expect(await recoverInterrupted(engine, dir, (m) => warnings.push(m))).toEqual({ resumed: [], helpers: 0 });
    expect(done).toEqual([]);
    expect(await readdir(dir)).toHaveLength(2);
    expect(warnings).toEqual([]);
  });

  it('keeps a note of the paused services only while they are paused, readable by its owner only', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'msting-recover-'));
    const journal = new PauseJournal(dir);
    const a = container('a1', 'stack-chroma-1');
    const b = container('b1', 'stack-knowledge-1');
    await journal.add(a);
    await journal.add(b);
    const path = join(dir, `.msting-backup-${process.pid}.paused`);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    await journal.remove(a);
    expect(await readdir(dir)).toEqual([`.msting-backup-${process.pid}.paused`]);
    await journal.remove(b);
    expect(await readdir(dir)).toEqual([]);
  });

  it('tells a gone process from a live one', () => {
    expect(processGone(process.pid)).toBe(false);
    expect(processGone(deadPid())).toBe(true);
  });
});

describe('a note that cannot be written', () => {
  it('warns once that a kill would leave the services paused, and lets the backup go on', async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'msting-recover-')), 'not-a-directory');
    await writeFile(dir, 'a file where the install directory should be');
    const warnings: string[] = [];
    const journal = new PauseJournal(dir, (m) => warnings.push(m));
    const a = container('a1', 'stack-chroma-1');
    await journal.add(a);
    await journal.add(container('b1', 'stack-knowledge-1'));
    await journal.remove(a);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^cannot note the paused services in .*not-a-directory\/\.msting-backup-\d+\.paused \(E[A-Z]+\): if this backup is killed, the next one cannot resume them/);
  });
});
