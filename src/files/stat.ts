import { stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { MstingError } from '../errors.js';

/** A path's stats, or undefined when nothing is there; any other failure is one msting error. */
export async function statOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await stat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new MstingError('IO', `cannot check ${path}: ${(err as Error).message}`, { cause: err });
  }
}
