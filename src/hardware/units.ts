/** Byte sizes as people read them and as compose writes them. */

export const MiB = 2 ** 20;
export const GiB = 2 ** 30;

/** A compose memory limit in whole GiB, rounded up: "12g". */
export function composeSize(bytes: number): string {
  return `${Math.max(1, Math.ceil(bytes / GiB))}g`;
}

const UNIT: Record<string, number> = { '': 1, b: 1, k: 2 ** 10, m: MiB, g: GiB, t: 2 ** 40 };

/**
 * Parse a memory size as config.yml and compose accept it: "512m", "1g", "2GiB", "16GB", "1.5g".
 * Binary multiples throughout, as Docker reads them. Null when it is not a size.
 */
export function parseMemorySize(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?$/i.exec(text.trim());
  if (!m) return null;
  return Math.round(Number(m[1]) * UNIT[m[2]!.toLowerCase()]!);
}
