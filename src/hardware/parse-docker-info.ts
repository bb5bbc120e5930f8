/**
 * The parts of Docker's /info answer (`docker info --format '{{json .}}'`) the hardware probe needs.
 * Fields come and go with engine versions: CDISpecDirs from 25 (CDI on by default from 28),
 * DiscoveredDevices from 28.3. Absent fields read as empty, never as errors.
 */
export interface DockerInfo {
  serverVersion: string | null;
  /** Names of the registered runtimes, such as runc and nvidia. */
  runtimes: string[];
  defaultRuntime: string | null;
  /** Directories the engine reads CDI specs from; empty when CDI is off or the engine predates it. */
  cdiSpecDirs: string[];
  /** CDI devices the engine reported itself (DiscoveredDevices, source "cdi"). */
  cdiDevices: string[];
  dockerRootDir: string | null;
  /** Memory containers can use: the host's, or the VM's under Docker Desktop. */
  memTotalBytes: number | null;
  ncpu: number | null;
  operatingSystem: string | null;
  /** Errors the CLI put in the document when the daemon did not answer. */
  serverErrors: string[];
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string' && v !== '') : [];
}

function str(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

export function parseDockerInfo(json: unknown): DockerInfo {
  const info = (json !== null && typeof json === 'object' ? json : {}) as Record<string, unknown>;
  const runtimes = info.Runtimes !== null && typeof info.Runtimes === 'object' ? Object.keys(info.Runtimes as object).sort() : [];
  const discovered = Array.isArray(info.DiscoveredDevices) ? (info.DiscoveredDevices as unknown[]) : [];
  const cdiDevices = discovered
    .map((d) => (d !== null && typeof d === 'object' ? (d as Record<string, unknown>) : {}))
    .filter((d) => d.Source === undefined || d.Source === 'cdi')
    .map((d) => str(d.ID))
    .filter((id): id is string => id !== null);
  const mem = typeof info.MemTotal === 'number' && info.MemTotal > 0 ? info.MemTotal : null;
  const ncpu = typeof info.NCPU === 'number' && info.NCPU > 0 ? info.NCPU : null;
  return {
    serverVersion: str(info.ServerVersion),
    runtimes,
    defaultRuntime: str(info.DefaultRuntime),
    cdiSpecDirs: strings(info.CDISpecDirs),
    cdiDevices,
    dockerRootDir: str(info.DockerRootDir),
    memTotalBytes: mem,
    ncpu,
    operatingSystem: str(info.OperatingSystem),
    serverErrors: strings(info.ServerErrors),
  };
}

/** Device kinds a CDI spec file declares ("kind: nvidia.com/gpu" in YAML, "kind": "nvidia.com/gpu" in JSON). */
export function parseCdiSpecKinds(text: string): string[] {
  const kinds = new Set<string>();
  for (const m of text.matchAll(/"?kind"?\s*:\s*"?([A-Za-z0-9.-]+\/[A-Za-z0-9._-]+)"?/g)) kinds.add(m[1]!);
  return [...kinds];
}

/** Does a runtime or CDI device name belong to NVIDIA or AMD GPUs? */
export function isNvidiaName(name: string): boolean {
  return /nvidia/i.test(name);
}

export function isAmdName(name: string): boolean {
  return /^amd\.com\//i.test(name);
}
