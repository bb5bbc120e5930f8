import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The installed msting package: its root (where templates/ and schema/ ship) and version. Found by
 * walking up from this module, so it holds for the sources, the built dist/ and an installed package.
 */
function findRoot(from: string): { root: string; version: string } {
  let dir = from;
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'msting' && typeof pkg.version === 'string') return { root: dir, version: pkg.version };
    } catch {
      // no package.json here: keep walking up
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error('msting package.json not found above the installed files');
    dir = parent;
  }
}

const found = findRoot(dirname(fileURLToPath(import.meta.url)));

export const PACKAGE_ROOT = found.root;
export const MSTING_VERSION = found.version;

declare const __MSTING_BUILD__: string | undefined;

/** This build of msting: the version plus a hash of the sources it was built from ("dev" when run from source). */
export const MSTING_BUILD = typeof __MSTING_BUILD__ === 'string' ? __MSTING_BUILD__ : `${MSTING_VERSION}+dev`;
