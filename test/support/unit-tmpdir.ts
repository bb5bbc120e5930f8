/**
 * Global setup of the unit project: every temporary directory the unit tests make goes under one
 * directory of this run (TMPDIR, which os.tmpdir() reads and the test workers inherit), removed at
 * the end, so a run leaves nothing in the system's temporary directory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const saved = process.env.TMPDIR;
  const dir = mkdtempSync(join(tmpdir(), 'msting-unit-'));
  process.env.TMPDIR = dir;
  return () => {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
    rmSync(dir, { recursive: true, force: true });
  };
}
