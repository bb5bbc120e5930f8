import { compareText } from '../compare.js';
import { DATABASES } from '../stack/secrets.js';
import type { ProjectContainer, ProjectVolume } from '../docker/backup-engine.js';

/** The service whose data is dumped logically; its data volume is never copied as files. */
export const DB_SERVICE = 'db';
export const REDIS_SERVICE = 'redis';

/**
 * Volumes whose services keep running during the copy: append-only log files and read
 * positions, where a torn last line is harmless and freezing every writer would pause the stack.
 */
export const LIVE_COPY_VOLUMES = new Set(['sting_logs', 'promtail_data', 'log_forwarder_data']);

export interface VolumeStep {
  volume: ProjectVolume;
  services: string[];
  quiesce: 'paused' | 'saved' | 'live';
  /** Running containers frozen while the volume is copied. */
  pause: ProjectContainer[];
  /** Redis container to SAVE before the copy. */
  save?: ProjectContainer;
}

export interface BackupPlan {
  project: string;
  db: ProjectContainer;
  volumes: VolumeStep[];
  /** Volumes not copied, with the reason. */
  skipped: Array<{ name: string; reason: string }>;
  /** Databases msting expects in every install. */
  expectedDatabases: string[];
}

/**
 * Decide what to copy and how: pure, from the project's containers and volumes. Throws a plain
 * reason string when the database service is missing or not running.
 */
export function planBackup(project: string, containers: ProjectContainer[], volumes: ProjectVolume[]): BackupPlan | { problem: string } {
  const db = containers.find((c) => c.service === DB_SERVICE && c.state === 'running');
  if (!db) {
    const present = containers.find((c) => c.service === DB_SERVICE);
    return {
      problem: present
        ? `the database container ${present.name} is ${present.state}, so the databases cannot be dumped`
        : `the compose project "${project}" has no database container`,
    };
  }
  const dbVolumes = new Set(db.mounts.filter((m) => m.type === 'volume').map((m) => m.name));
  const skipped: BackupPlan['skipped'] = [];
  const steps: VolumeStep[] = [];
  for (const volume of [...volumes].sort((a, b) => compareText(a.key, b.key))) {
    if (dbVolumes.has(volume.name)) {
      skipped.push({ name: volume.name, reason: 'PostgreSQL data: backed up as pg_dump archives' });
      continue;
    }
    const users = containers.filter((c) => c.mounts.some((m) => m.type === 'volume' && m.name === volume.name));
    const services = [...new Set(users.map((c) => c.service))].sort();
    const writers = users.filter((c) => c.state === 'running' && c.mounts.some((m) => m.name === volume.name && !m.readOnly));
    const redis = writers.find((c) => c.service === REDIS_SERVICE);
    const live = LIVE_COPY_VOLUMES.has(volume.key) || writers.length === 0;
    steps.push({
      volume,
      services,
      quiesce: live ? 'live' : redis ? 'saved' : 'paused',
      pause: live ? [] : writers,
      ...(redis && !live ? { save: redis } : {}),
    });
  }
  return { project, db, volumes: steps, skipped, expectedDatabases: [...DATABASES] };
}

/** Archive file names: msting-backup-<project>-<UTC time, ms>.tar, plus .enc when encrypted. */
export function archiveName(project: string, when: Date, encrypted: boolean): string {
  const stamp = when.toISOString().replace(/[-:]/g, '');
  return `msting-backup-${project}-${stamp}.tar${encrypted ? '.enc' : ''}`;
}

const NAME_RE = /^msting-backup-(.+)-(\d{8}T\d{6}\.\d{3}Z)\.tar(\.enc)?$/;

export function parseArchiveName(name: string): { project: string; created: Date; encrypted: boolean } | undefined {
  const m = NAME_RE.exec(name);
  if (!m) return undefined;
  const s = m[2]!;
  const created = new Date(`${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}T${s.slice(9, 11)}:${s.slice(11, 13)}:${s.slice(13, 19)}Z`);
  return { project: m[1]!, created, encrypted: Boolean(m[3]) };
}

/** The archives to delete so only the newest `keep` of one project remain. */
export function planPrune(names: string[], project: string, keep: number): string[] {
  const ours = names
    .map((name) => ({ name, parsed: parseArchiveName(name) }))
    .filter((a) => a.parsed?.project === project)
    .sort((a, b) => b.parsed!.created.getTime() - a.parsed!.created.getTime() || compareText(b.name, a.name));
  return ours.slice(keep).map((a) => a.name);
}
