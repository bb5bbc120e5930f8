import { statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import { formatBytes } from '../bytes.js';
import { MstingError } from '../errors.js';

/** Free bytes for an unprivileged writer on the file system that holds `dir` (or its nearest existing parent). */
export async function freeBytes(dir: string): Promise<{ free: number; checked: string }> {
  let current = dir;
  for (;;) {
    try {
      const s = await statfs(current);
      return { free: Number(s.bavail) * Number(s.bsize), checked: current };
    } catch (err) {
      const parent = dirname(current);
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || parent === current) throw err;
      current = parent;
    }
  }
}

/** Room kept free beyond the download itself: 1 GiB or 2 % of it, whichever is more. */
export function diskMargin(missing: number): number {
  return Math.max(1024 ** 3, Math.ceil(missing * 0.02));
}

/** Fails before any byte is fetched when what is still missing (plus the margin) does not fit. */
export async function checkDiskSpace(modelsDir: string, missing: number): Promise<void> {
  if (missing <= 0) return;
  const { free, checked } = await freeBytes(modelsDir);
  const margin = diskMargin(missing);
  if (free < missing + margin) {
    throw new MstingError('PREFLIGHT', `not enough disk space for the models in ${modelsDir}`, {
      details: [
        `still to download: ${formatBytes(missing)} (${missing} bytes)`,
        `margin kept free:  ${formatBytes(margin)}`,
        `free on ${checked}: ${formatBytes(free)} (${free} bytes)`,
        `short by:          ${formatBytes(missing + margin - free)}`,
      ],
      hint: 'free some space, set STING_MODELS_DIR to a larger disk, or narrow llm.models[].files to the weights you need',
    });
  }
}
