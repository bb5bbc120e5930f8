import { chmod, mkdir, readFile, rm, stat } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import { MstingError } from '../errors.js';
import { writeFileAtomic } from '../files/atomic-write.js';
import { RENDER_PATHS } from '../stack/plan.js';
import { RENDER_DIR_MODES, type RenderedFile } from './render-stack.js';

/**
 * Writes a rendered stack into a directory: each file atomically with its final mode, unchanged
 * files left alone, files an earlier render wrote but this one does not (a model switched off)
 * removed. The compose file goes last, so it never names a config file that is not there yet.
 * The user's override file is never touched.
 */

export interface WriteReport {
  /** Install-relative paths written because they were new or changed (content or mode). */
  written: string[];
  unchanged: string[];
  /** Files an earlier render wrote that this render no longer produces. */
  removed: string[];
}

export interface WriteOptions {
  signal?: AbortSignal;
  /** Called after each file is written, for progress output. */
  onFile?: (path: string, state: 'written' | 'unchanged' | 'removed') => void;
  /** Install-relative paths left exactly as they are, but still counted as rendered (never removed). */
  keep?: readonly string[];
  /**
   * Checks for files whose new content must pass a test before it replaces the old one (the
   * running LLM gateway's nginx.conf), by install-relative path. A guard runs only when the
   * content changed, before anything else is written; it throws to refuse the file (nothing of
   * this render is written then), or returns true when it put the file in place itself.
   */
  guards?: ReadonlyMap<string, WriteGuard>;
}

/** See `WriteOptions.guards`: `target` is the file's absolute path. */
export type WriteGuard = (content: string, target: string) => Promise<boolean>;

/** Where msting remembers what it rendered, to clean up what a later render drops. */
export const MANIFEST_PATH = 'compose/.msting-rendered.json';

function ioError(err: unknown, path: string): MstingError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') {
    return new MstingError('IO', `cannot write ${path}: permission denied`, {
      hint: 'run as the user that owns the install directory (sudo for /opt/sting-ce), or render elsewhere with --output DIR',
      cause: err,
    });
  }
  if (code === 'ENOSPC') return new MstingError('IO', `cannot write ${path}: no space left on the device`, { hint: 'free some disk space and run again', cause: err });
  if (code === 'EROFS') return new MstingError('IO', `cannot write ${path}: read-only file system`, { hint: 'render with --output DIR on a writable file system', cause: err });
  return new MstingError('IO', `cannot write ${path}: ${(err as Error).message}`, { cause: err });
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw new MstingError('INTERRUPTED', 'interrupted while writing the rendered files', { hint: 'run the same command again: it rewrites whatever changed' });
  }
}

async function currentState(path: string): Promise<{ content: string; mode: number } | undefined> {
  try {
    const [content, info] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
    return { content, mode: info.mode & 0o777 };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function dirModeFor(relative: string): number {
  const top = relative.split('/')[0] ?? '';
  return RENDER_DIR_MODES[top] ?? 0o755;
}

async function readManifest(root: string): Promise<string[]> {
  try {
    const parsed = JSON.parse(await readFile(join(root, MANIFEST_PATH), 'utf8')) as { files?: unknown };
    return Array.isArray(parsed.files) ? parsed.files.filter((f): f is string => typeof f === 'string') : [];
  } catch {
    return [];
  }
}

/** Only files msting renders may be removed: under compose/config/, env/*.env, or the compose file. */
function removable(path: string): boolean {
  if (path === RENDER_PATHS.composeOverrideFile || path.includes('..') || posix.isAbsolute(path)) return false;
  return path === RENDER_PATHS.composeFile || path.startsWith(`${RENDER_PATHS.serviceConfigDir}/`) || /^env\/[a-z0-9-]+\.env$/.test(path);
}

export async function writeRendered(files: ReadonlyMap<string, RenderedFile>, root: string, options: WriteOptions = {}): Promise<WriteReport> {
  const report: WriteReport = { written: [], unchanged: [], removed: [] };
  // Guarded files first: a refused one stops the render before anything else changed.
  const guarded = (p: string) => options.guards?.has(p) === true;
  const rest = [...files.keys()].filter((p) => p !== RENDER_PATHS.composeFile);
  const order = [...rest.filter(guarded), ...rest.filter((p) => !guarded(p))];
  if (files.has(RENDER_PATHS.composeFile)) order.push(RENDER_PATHS.composeFile);

  try {
    // The root first, with an ordinary mode: a recursive mkdir gives every level it creates the same mode.
    await mkdir(root, { recursive: true, mode: 0o755 });
    for (const [dir, mode] of Object.entries(RENDER_DIR_MODES)) {
      if (![...files.keys()].some((p) => p.startsWith(`${dir}/`))) continue;
      await mkdir(join(root, dir), { recursive: true, mode });
      // An existing directory may have been created wider; secrets need it closed.
      await chmod(join(root, dir), mode);
    }
    if (order.includes(RENDER_PATHS.composeOverrideFile)) throw new Error('refusing to write the user override file');
    // Read what is there all at once (most renders change nothing); write in order, compose file last.
    const states = await Promise.all(
      order.map((path) =>
        currentState(join(root, path)).catch((err: unknown) => {
          throw ioError(err, join(root, path));
        }),
      ),
    );
    for (const [index, path] of order.entries()) {
      checkAborted(options.signal);
      const file = files.get(path)!;
      const target = join(root, path);
      const existing = states[index];
      if (existing && existing.content === file.content && existing.mode === file.mode) {
        report.unchanged.push(path);
        options.onFile?.(path, 'unchanged');
        continue;
      }
      if (existing && existing.content === file.content) {
        await chmod(target, file.mode);
      } else if (await options.guards?.get(path)?.(file.content, target)) {
        // The guard checked the new content and put it in place.
        if (file.mode !== 0o644) await chmod(target, file.mode);
      } else {
        await writeFileAtomic(target, file.content, { mode: file.mode, dirMode: dirModeFor(path) });
      }
      report.written.push(path);
      options.onFile?.(path, 'written');
    }

    const keep = new Set(options.keep ?? []);
    const previous = await readManifest(root);
    for (const path of previous.filter((p) => !files.has(p) && !keep.has(p) && removable(p)).sort()) {
      checkAborted(options.signal);
      await rm(join(root, path), { force: true });
      report.removed.push(path);
      options.onFile?.(path, 'removed');
    }
    const manifest = `${JSON.stringify({ files: [...new Set([...files.keys(), ...keep])].sort() }, null, 2)}\n`;
    const current = await currentState(join(root, MANIFEST_PATH));
    if (current?.content !== manifest) await writeFileAtomic(join(root, MANIFEST_PATH), manifest, { mode: 0o644 });
  } catch (err) {
    if (err instanceof MstingError) throw err;
    const path = (err as NodeJS.ErrnoException).path ?? dirname(join(root, RENDER_PATHS.composeFile));
    throw ioError(err, path);
  }
  return report;
}
