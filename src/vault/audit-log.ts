import type { ContainerExec } from '../docker/container-exec.js';
import type { ContainerInfo, DockerEngine } from '../docker/engine.js';
import { AUDIT_FILE } from './policies.js';

/**
 * Vault's audit log, seen from outside the vault container. Vault's file audit device never
 * rotates its file; it reopens it on SIGHUP. So msting shifts the files itself (audit.log →
 * audit.log.1 → … → audit.log.N, the oldest dropped) and then sends SIGHUP: until the signal,
 * Vault keeps appending to the renamed file, so no line is lost.
 */

/** Above this size the audit log is rotated. */
export const AUDIT_ROTATE_BYTES = 50 * 1024 * 1024;
/** Rotated files kept beside the live one (audit.log.1 … audit.log.3). */
export const AUDIT_KEEP = 3;
/** Lines of the audit log a support bundle carries. */
export const AUDIT_TAIL_LINES = 2000;

/** The running vault container, as far as the audit log needs it. */
export interface VaultContainer {
  /** Run `argv` (no shell) in the container; a command that fails is a result, not an exception. */
  exec(argv: string[]): Promise<{ exitCode: number; output: string }>;
  /** Send a signal to Vault's process. */
  signal(signal: 'SIGHUP'): Promise<void>;
}

/** The project's running vault container, over the Docker adapter; null when it does not run. */
export function runningVaultContainer(
  containers: readonly ContainerInfo[],
  engine: Pick<DockerEngine, 'signalContainer'>,
  exec: ContainerExec,
): VaultContainer | null {
  const vault = containers.find((c) => c.service === 'vault' && c.state === 'running');
  if (!vault) return null;
  return {
    exec: (argv) => exec.exec(vault.id, argv),
    signal: (signal) => engine.signalContainer(vault.id, signal),
  };
}

export interface AuditRotationOptions {
  file?: string;
  thresholdBytes?: number;
  keep?: number;
}

export type AuditRotation =
  | { rotated: true; file: string; sizeBytes: number; kept: string[] }
  | { rotated: false; file: string; sizeBytes: number | null };

/** The `mv` commands that shift the files, newest last, given which rotated files exist. */
export function planAuditRotation(file: string, existing: ReadonlySet<string>, keep: number): string[][] {
  const moves: string[][] = [];
  // Oldest first, so no move overwrites a file that has not moved yet; `mv -f` onto
  // file.<keep> drops the oldest.
  for (let i = keep - 1; i >= 1; i--) {
    if (existing.has(`${file}.${i}`)) moves.push(['mv', '-f', `${file}.${i}`, `${file}.${i + 1}`]);
  }
  if (keep >= 1) moves.push(['mv', '-f', file, `${file}.1`]);
  else moves.push(['rm', '-f', file]);
  return moves;
}

/** Sizes of `paths` that exist, from `stat -c '%n %s'` (missing files are complaints on the same output, skipped). */
async function sizes(container: VaultContainer, paths: string[]): Promise<Map<string, number>> {
  const { output } = await container.exec(['stat', '-c', '%n %s', ...paths]);
  const wanted = new Set(paths);
  const found = new Map<string, number>();
  for (const line of output.split('\n')) {
    const m = /^(\S+) (\d+)$/.exec(line.trim());
    if (m && wanted.has(m[1]!)) found.set(m[1]!, Number(m[2]));
  }
  return found;
}

/**
 * Rotate Vault's audit log when it is larger than the threshold: shift the files, then SIGHUP so
 * Vault opens a fresh one. Under the threshold (or with no audit log yet) nothing is touched.
 * Throws when a command in the container fails, so the caller can warn.
 */
export async function rotateVaultAuditLog(container: VaultContainer, options: AuditRotationOptions = {}): Promise<AuditRotation> {
  const file = options.file ?? AUDIT_FILE;
  const threshold = options.thresholdBytes ?? AUDIT_ROTATE_BYTES;
  const keep = options.keep ?? AUDIT_KEEP;
  const rotatedNames = Array.from({ length: keep }, (_, i) => `${file}.${i + 1}`);
  const found = await sizes(container, [file, ...rotatedNames]);
  const size = found.get(file);
  if (size === undefined || size <= threshold) return { rotated: false, file, sizeBytes: size ?? null };
  for (const argv of planAuditRotation(file, new Set(found.keys()), keep)) {
    const r = await container.exec(argv);
    if (r.exitCode !== 0) throw new Error(`\`${argv.join(' ')}\` failed in the vault container: ${r.output.trim() || `exit code ${r.exitCode}`}`);
  }
  await container.signal('SIGHUP');
  return { rotated: true, file, sizeBytes: size, kept: rotatedNames };
}

/**
 * The last `lines` lines of Vault's audit log, or why there are none (a short note for the
 * support bundle). Vault has already replaced every secret value in it with an HMAC.
 */
export async function readVaultAuditTail(
  container: VaultContainer | null,
  lines = AUDIT_TAIL_LINES,
  file = AUDIT_FILE,
): Promise<{ ok: true; text: string } | { ok: false; note: string }> {
  if (!container) return { ok: false, note: `Vault's audit log was not read: the vault container is not running.` };
  let result: { exitCode: number; output: string };
  try {
    result = await container.exec(['tail', '-n', String(lines), file]);
  } catch (err) {
    return { ok: false, note: `Vault's audit log ${file} could not be read: ${(err as Error).message}` };
  }
  if (result.exitCode !== 0) return { ok: false, note: `Vault's audit log ${file} could not be read (${result.output.trim() || `exit code ${result.exitCode}`}); vault init enables it.` };
  return { ok: true, text: result.output };
}
