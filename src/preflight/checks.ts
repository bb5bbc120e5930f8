import type { PortReport } from '../lifecycle/ports.js';

/**
 * Preflight checks as values: every check is run, every result reported at once, and the install
 * stops (exit 4) only after showing all of them. Pure: facts in, checks out.
 */

export type CheckSeverity = 'error' | 'warning' | 'info';

export interface PreflightCheck {
  /** Stable id: docker-engine, compose, memory, disk, ports, install-dir, docker-resources. */
  id: string;
  ok: boolean;
  /** What a failed check means: error stops the install, warning does not; info for passed checks. */
  severity: CheckSeverity;
  message: string;
  hint: string | null;
}

export interface PreflightReport {
  /** No check failed with severity error. */
  ok: boolean;
  profile: string;
  checks: PreflightCheck[];
}

const GB = 1e9;
const GiB = 2 ** 30;

/** What a profile needs, from the STING-CE documentation: 16 GB RAM (32 GB with the LLM services), 50 GB disk. */
export interface ProfileRequirements {
  memoryBytes: number;
  diskBytes: number;
  /** A shortfall is an error (the install stops unless forced) rather than a warning. */
  strict: boolean;
}

export function requirementsFor(profile: string, runsModels: boolean): ProfileRequirements {
  if (runsModels) return { memoryBytes: 32 * GiB, diskBytes: 50 * GB, strict: true };
  return { memoryBytes: 16 * GiB, diskBytes: 50 * GB, strict: profile === 'full' };
}

/** Oldest engine msting supports (Compose v2 health conditions, `host-gateway`). */
export const MIN_ENGINE_VERSION = '20.10.0';

export function compareVersions(a: string, b: string): number {
  const parse = (v: string) => v.replace(/^v/, '').split(/[.+-]/).slice(0, 3).map((p) => Number.parseInt(p, 10) || 0);
  const [x, y] = [parse(a), parse(b)];
  for (let i = 0; i < 3; i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
  return 0;
}

export type Probe<T> = { ok: true; value: T } | { ok: false; message: string; hint: string | null };

export interface DockerResources {
  /** Where the numbers come from: measured inside a container, or the engine's own report. */
  source: 'container' | 'docker-info';
  cpus: number | null;
  memoryBytes: number | null;
  /** The image the measurement ran in. */
  image?: string;
}

export interface PreflightFacts {
  profile: string;
  runsModels: boolean;
  /** --force: resource shortfalls of a strict profile are warnings too. */
  force: boolean;
  engine: Probe<{ version: string }>;
  compose: Probe<{ version: string }>;
  host: { memoryBytes: number; cpus: number };
  /** Docker's own view, when the engine answered. */
  dockerResources: DockerResources | null;
  /** A note when the in-container measurement could not run (no local image, ...). */
  dockerResourcesNote: string | null;
  installDir: Probe<{ path: string; freeBytes: number | null }>;
  /** Free space where Docker keeps images and volumes; null when unknown (remote engine). */
  dockerDisk: { path: string; freeBytes: number } | null;
  ports: PortReport | null;
}

function fmt(bytes: number, unit: 'GB' | 'GiB'): string {
  return `${(bytes / (unit === 'GB' ? GB : GiB)).toFixed(1)} ${unit}`;
}

export function evaluatePreflight(facts: PreflightFacts): PreflightReport {
  const checks: PreflightCheck[] = [];
  const pass = (id: string, message: string): void => void checks.push({ id, ok: true, severity: 'info', message, hint: null });
  const fail = (id: string, severity: 'error' | 'warning', message: string, hint: string | null): void => void checks.push({ id, ok: false, severity, message, hint });
  const need = requirementsFor(facts.profile, facts.runsModels);
  const shortfall: 'error' | 'warning' = need.strict && !facts.force ? 'error' : 'warning';
  const shortfallHint = (what: string) =>
    need.strict && !facts.force
      ? `${what}, or run with --force to install anyway (services may be killed for lack of memory or fail to write)`
      : what;

  if (facts.engine.ok) {
    const v = facts.engine.value.version;
    if (compareVersions(v, MIN_ENGINE_VERSION) < 0) fail('docker-engine', 'error', `Docker engine ${v} is too old (msting needs ${MIN_ENGINE_VERSION} or newer)`, 'upgrade Docker (https://docs.docker.com/engine/install/)');
    else pass('docker-engine', `Docker engine ${v} answers`);
  } else fail('docker-engine', 'error', facts.engine.message, facts.engine.hint);

  if (facts.compose.ok) pass('compose', `Docker Compose ${facts.compose.value.version}`);
  else fail('compose', 'error', facts.compose.message, facts.compose.hint);

  // Memory: what Docker can use wins over the host's RAM (Docker Desktop runs containers in a VM).
  const dockerMem = facts.dockerResources?.memoryBytes ?? null;
  const memory = dockerMem ?? facts.host.memoryBytes;
  const memWhere = dockerMem !== null ? `Docker can use ${fmt(memory, 'GiB')}${facts.dockerResources?.source === 'container' ? ' (measured in a container)' : ''}` : `this host has ${fmt(memory, 'GiB')}`;
  if (memory + 0.5 * GiB < need.memoryBytes) {
    fail(
      'memory',
      shortfall,
      `${memWhere} of memory; profile ${facts.profile} needs ${fmt(need.memoryBytes, 'GiB')}`,
      shortfallHint(dockerMem !== null && dockerMem < facts.host.memoryBytes * 0.9 ? 'give Docker more memory (Docker Desktop: Settings → Resources)' : `use a machine with more memory${facts.runsModels ? ', or disable models (llm.models[].enabled: false) and use the default profile' : ''}`),
    );
  } else pass('memory', `${memWhere} of memory (profile ${facts.profile} needs ${fmt(need.memoryBytes, 'GiB')})`);

  if (facts.dockerResources) {
    const r = facts.dockerResources;
    const cpus = r.cpus ?? facts.host.cpus;
    if (cpus < 2) fail('docker-resources', 'warning', `Docker can use ${cpus} CPU${cpus === 1 ? '' : 's'}; the stack starts slowly with fewer than 2`, 'give Docker more CPUs');
    else pass('docker-resources', `Docker can use ${cpus} CPUs and ${r.memoryBytes !== null ? fmt(r.memoryBytes, 'GiB') : 'unknown'} memory (${r.source === 'container' ? `measured in ${r.image ?? 'a container'}` : 'docker info'})${facts.dockerResourcesNote ? `; ${facts.dockerResourcesNote}` : ''}`);
  } else if (facts.engine.ok) {
    fail('docker-resources', 'warning', `could not measure what Docker can use${facts.dockerResourcesNote ? `: ${facts.dockerResourcesNote}` : ''}`, null);
  }

  if (facts.installDir.ok) {
    const { path, freeBytes } = facts.installDir.value;
    pass('install-dir', `${path} is writable`);
    const disk = facts.dockerDisk ?? (freeBytes !== null ? { path, freeBytes } : null);
    if (disk) {
      const where = facts.dockerDisk ? `Docker's data root ${disk.path}` : disk.path;
      if (disk.freeBytes < need.diskBytes) {
        fail('disk', shortfall, `${fmt(disk.freeBytes, 'GB')} free on ${where}; profile ${facts.profile} needs ${fmt(need.diskBytes, 'GB')}`, shortfallHint('free some space (docker system df shows what Docker holds)'));
      } else pass('disk', `${fmt(disk.freeBytes, 'GB')} free on ${where}`);
    }
  } else fail('install-dir', 'error', facts.installDir.message, facts.installDir.hint);

  if (facts.ports) {
    if (facts.ports.ok) pass('ports', `${facts.ports.checked.length} host ports are free`);
    else {
      for (const c of facts.ports.conflicts) fail('ports', 'error', c.message, `msting config set ${c.keys[c.keys.length - 1] ?? 'ports.<key>'} <port>, then run msting install again`);
    }
  }
  return { ok: checks.every((c) => c.ok || c.severity !== 'error'), profile: facts.profile, checks };
}
