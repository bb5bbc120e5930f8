import type { GpuInfo } from './types.js';

/** The fields msting asks nvidia-smi for, in this order. */
export const NVIDIA_QUERY_FIELDS = ['index', 'uuid', 'name', 'memory.total', 'memory.free', 'compute_cap', 'driver_version'] as const;

/** Drivers older than about 510 do not know compute_cap; msting asks again without it. */
export const NVIDIA_QUERY_FIELDS_NO_CC = NVIDIA_QUERY_FIELDS.filter((f) => f !== 'compute_cap');

export type NvidiaField = (typeof NVIDIA_QUERY_FIELDS)[number];

export interface NvidiaSmiParse {
  gpus: GpuInfo[];
  /** Lines that did not have the expected fields, kept to report them. */
  unparsed: string[];
}

/** `[N/A]`, `[Not Supported]`, `N/A`, `[Unknown Error]` and empty fields mean "unknown". */
function present(value: string | undefined): string | null {
  if (value === undefined) return null;
  const v = value.trim();
  if (v === '' || /^\[.*\]$/.test(v) || /^n\/a$/i.test(v)) return null;
  return v;
}

function mib(value: string | undefined): number | null {
  const v = present(value);
  if (v === null) return null;
  const n = Number(v.replace(/\s*MiB$/i, ''));
  return Number.isFinite(n) && n >= 0 ? Math.round(n) : null;
}

/**
 * Parse `nvidia-smi --query-gpu=<fields> --format=csv,noheader,nounits`: one GPU a line, fields
 * separated by ", ". Unknown values become null, never zero, so a GPU that does not report its
 * memory (unified-memory parts such as GB10 or Grace Hopper) is not mistaken for a 0 MiB card.
 */
export function parseNvidiaSmi(text: string, fields: readonly string[] = NVIDIA_QUERY_FIELDS): NvidiaSmiParse {
  const gpus: GpuInfo[] = [];
  const unparsed: string[] = [];
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
  for (const line of lines) {
    const parts = line.split(',').map((p) => p.trim());
    if (parts.length !== fields.length) {
      unparsed.push(line);
      continue;
    }
    const get = (field: string): string | undefined => parts[fields.indexOf(field)];
    const index = Number(present(get('index')));
    const name = present(get('name'));
    if (!Number.isInteger(index) || index < 0 || name === null) {
      unparsed.push(line);
      continue;
    }
    const total = mib(get('memory.total'));
    const cc = present(get('compute_cap'));
    gpus.push({
      vendor: 'nvidia',
      index,
      name,
      uuid: present(get('uuid')),
      memoryTotalMiB: total,
      memoryFreeMiB: mib(get('memory.free')),
      computeCapability: cc !== null && /^\d+\.\d+$/.test(cc) ? cc : null,
      driverVersion: present(get('driver_version')),
      source: 'nvidia-smi',
      // GB10 and Grace Hopper answer [N/A] for memory.total: the GPU uses system memory.
      ...(total === null && /^\[?N\/A\]?$/i.test(get('memory.total') ?? '') ? { unifiedMemory: true } : {}),
    });
  }
  return { gpus, unparsed };
}

/** nvidia-smi rejected a field name: the driver predates it. */
export function isUnknownFieldError(output: string): boolean {
  return /not a valid field to query/i.test(output);
}

/** Compare compute capabilities such as "7.5" and "8.0" numerically (8.10 > 8.9 would be wrong as floats). */
export function computeCapabilityAtLeast(cc: string, major: number, minor = 0): boolean {
  const [a, b] = cc.split('.').map(Number) as [number, number];
  return a > major || (a === major && (b ?? 0) >= minor);
}
