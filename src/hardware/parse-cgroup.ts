/**
 * cgroup memory limits. Inside a container the limit, not the host's RAM, is what msting and the
 * services it starts can use. cgroup v2 writes "max" for no limit; v1 writes a huge number
 * (9223372036854771712, PAGE_COUNTER_MAX in bytes) instead.
 */

/** Paths of this process's cgroups, from /proc/self/cgroup. */
export interface ProcCgroup {
  /** The unified (v2) hierarchy path, "0::/..."; null on a v1-only host. */
  v2: string | null;
  /** The v1 memory controller's path, "N:memory:/..."; null when v1 has no memory controller. */
  v1Memory: string | null;
}

export function parseProcCgroup(text: string): ProcCgroup {
  let v2: string | null = null;
  let v1Memory: string | null = null;
  for (const line of text.split(/\r?\n/)) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!m) continue;
    if (m[1] === '0' && m[2] === '') v2 = m[3]!;
    else if (m[2]!.split(',').includes('memory')) v1Memory = m[3]!;
  }
  return { v2, v1Memory };
}

/** Anything at or above 2^60 bytes (an exbibyte) is v1's way of saying "no limit". */
const V1_UNLIMITED = 2 ** 60;

/**
 * Parse one memory.max (v2) or memory.limit_in_bytes (v1) file. Null means no limit: "max", a v1
 * "unlimited" number, or a limit at or above the host's RAM (it limits nothing).
 */
export function parseCgroupLimit(raw: string | null | undefined, hostTotalBytes?: number): number | null {
  if (raw === null || raw === undefined) return null;
  const v = raw.trim();
  if (v === '' || v === 'max' || !/^\d+$/.test(v)) return null;
  const n = Number(v);
  if (n >= V1_UNLIMITED) return null;
  if (hostTotalBytes !== undefined && n >= hostTotalBytes) return null;
  return n;
}

/**
 * The directories whose limit applies to this process, from its own cgroup up to the root of the
 * mounted hierarchy: a parent's limit binds too (systemd slices, nested containers).
 */
export function cgroupLimitFiles(proc: ProcCgroup): string[] {
  const files: string[] = [];
  const walk = (mount: string, path: string, file: string): void => {
    const parts = path.split('/').filter(Boolean);
    for (let i = parts.length; i >= 0; i--) files.push(`${[mount, ...parts.slice(0, i)].join('/')}/${file}`);
  };
  if (proc.v2 !== null) walk('/sys/fs/cgroup', proc.v2, 'memory.max');
  if (proc.v1Memory !== null) walk('/sys/fs/cgroup/memory', proc.v1Memory, 'memory.limit_in_bytes');
  return files;
}

/** The tightest of the limits read (null when none limits anything). */
export function tightestLimit(raws: (string | null)[], hostTotalBytes?: number): number | null {
  let best: number | null = null;
  for (const raw of raws) {
    const n = parseCgroupLimit(raw, hostTotalBytes);
    if (n !== null && (best === null || n < best)) best = n;
  }
  return best;
}
