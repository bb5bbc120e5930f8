import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MstingConfig } from '../config/schema.js';
import { writeFileAtomic } from '../files/atomic-write.js';
import type { HardwareProfile, Recommendation } from './types.js';

/**
 * The last hardware probe, kept in `<home>/hardware.json` so that `config render`, `start` and
 * `update` do not spend most of their time asking nvidia-smi, rocm-smi and Docker again. A
 * snapshot counts only for the boot it was taken in and for an hour; `msting install` always
 * probes afresh, and `msting hardware` always shows a fresh probe.
 */

export const HARDWARE_SNAPSHOT_FILE = 'hardware.json';
const SNAPSHOT_VERSION = 1;
export const SNAPSHOT_MAX_AGE_MS = 60 * 60 * 1000;

interface Snapshot {
  version: number;
  bootId: string | null;
  probedAt: string;
  profile: HardwareProfile;
}

async function bootId(): Promise<string | null> {
  try {
    return (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
  } catch {
    return null;
  }
}

/** A fresh probe of this machine (nvidia-smi, rocm-smi, sysfs, Docker, systeminformation). */
export async function probeMachine(env: NodeJS.ProcessEnv): Promise<HardwareProfile> {
  const [{ probeHardware }, { createSystemProbeDeps }] = await Promise.all([import('./probe.js'), import('./system-probe.js')]);
  return probeHardware(createSystemProbeDeps(env));
}

export async function readSnapshot(home: string, now: number = Date.now()): Promise<HardwareProfile | null> {
  let snapshot: Snapshot;
  try {
    snapshot = JSON.parse(await readFile(join(home, HARDWARE_SNAPSHOT_FILE), 'utf8')) as Snapshot;
  } catch {
    return null;
  }
  if (snapshot.version !== SNAPSHOT_VERSION || typeof snapshot.probedAt !== 'string') return null;
  const age = now - Date.parse(snapshot.probedAt);
  if (!(age >= 0 && age < SNAPSHOT_MAX_AGE_MS)) return null;
  if (snapshot.bootId !== (await bootId())) return null;
  return snapshot.profile;
}

/** Keep a probe for the next command. Best effort: a home msting cannot write is not an error here. */
export async function writeSnapshot(home: string, profile: HardwareProfile, now: number = Date.now()): Promise<void> {
  const snapshot: Snapshot = { version: SNAPSHOT_VERSION, bootId: await bootId(), probedAt: new Date(now).toISOString(), profile };
  await writeFileAtomic(join(home, HARDWARE_SNAPSHOT_FILE), `${JSON.stringify(snapshot, null, 2)}\n`, { mode: 0o644 }).catch(() => undefined);
}

/** The machine's profile: the snapshot when it still holds, else a fresh probe that is then kept. */
export async function machineProfile(home: string, env: NodeJS.ProcessEnv): Promise<HardwareProfile> {
  const cached = await readSnapshot(home);
  if (cached) return cached;
  const profile = await probeMachine(env);
  await writeSnapshot(home, profile);
  return profile;
}

/** The recommendation rendering uses for this machine and config. */
export async function machineRecommendation(config: MstingConfig, home: string, env: NodeJS.ProcessEnv): Promise<Recommendation> {
  const [profile, { recommend }] = await Promise.all([machineProfile(home, env), import('./recommend.js')]);
  return recommend(profile, config);
}
