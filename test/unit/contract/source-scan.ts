import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { envReads } from './env-reads.js';
import { inImage } from './image-files.js';

/**
 * Walks the STING-CE folders a service's code lives in and lists every variable read without a
 * default, skipping files that never run in the service: tests, backups, and (when the image's
 * contents are known) files the image does not hold.
 */

export interface SourceRead {
  name: string;
  /** `file:line`, the file relative to the tree. */
  at: string;
}

/** The `STING/` folder of a STING-CE checkout, or the folder itself when it is the tree. */
export function resolveStingTree(dir: string): string | undefined {
  for (const candidate of [join(dir, 'STING'), dir]) {
    if (existsSync(join(candidate, 'VERSION')) || existsSync(join(candidate, 'docker-compose.yml'))) return candidate;
  }
  return undefined;
}

const SCANNED = /\.(py|m?[jt]sx?|cjs)$/;

/** Test files and backups: they ship in some images but the service never runs them. */
export function isSkippedFile(path: string): boolean {
  const parts = path.split('/');
  const file = parts.at(-1)!;
  if (parts.some((p) => p === 'tests' || p === 'test' || p === '__tests__' || p === 'node_modules' || p === '__pycache__')) return true;
  if (/^test_.*\.py$|_test\.py$|^conftest\.py$|\.(test|spec)\.[jt]sx?$/.test(file)) return true;
  if (/\.backup|_backup/i.test(file)) return true;
  return false;
}

function walk(dir: string, out: string[]): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
      walk(path, out);
    } else if (entry.isFile()) out.push(path);
  }
}

/** The files under `folders` (relative to `tree`; a folder or a single file) that we scan. */
export function scannedFiles(tree: string, folders: readonly string[], imageSources?: readonly string[]): string[] {
  const files: string[] = [];
  for (const folder of folders) {
    const path = join(tree, folder);
    if (!existsSync(path)) continue;
    if (statSync(path).isDirectory()) walk(path, files);
    else files.push(path);
  }
  return [...new Set(files)]
    .map((f) => relative(tree, f).split(sep).join('/'))
    .filter((f) => SCANNED.test(f) && !isSkippedFile(f))
    .filter((f) => !imageSources || inImage(f, imageSources))
    .sort();
}

/** Every read without a default in `files`, grouped by variable, each with where it is read. */
export function scanReads(tree: string, files: readonly string[]): Map<string, string[]> {
  const reads = new Map<string, string[]>();
  for (const file of files) {
    for (const read of envReads(file, readFileSync(join(tree, file), 'utf8'))) {
      const at = reads.get(read.name) ?? [];
      at.push(`${file}:${read.line}`);
      reads.set(read.name, at);
    }
  }
  return new Map([...reads].sort(([a], [b]) => a.localeCompare(b)));
}
