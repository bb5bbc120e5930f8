import { readFileSync } from 'node:fs';
import { uptime } from 'node:os';

let cached: string | undefined;

/**
 * An id of the running boot of this machine. Data written but not yet flushed to disk survives
 * the death of a process (kill -9, Ctrl-C) but not a reboot, so progress records and
 * verifications say which boot they were made in. Linux has a kernel boot id; elsewhere the boot
 * time (to 10 s) stands in, and a mismatch only ever makes msting more careful.
 */
export function bootId(): string {
  if (cached) return cached;
  try {
    cached = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    cached = `boot-${Math.round((Date.now() - uptime() * 1000) / 10_000)}`;
  }
  return cached;
}
