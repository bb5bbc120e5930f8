import type { GpuInfo } from './types.js';

/**
 * Parse `rocm-smi --showmeminfo vram --showproductname --json`: an object keyed "card0", "card1", ...
 * whose values carry "VRAM Total Memory (B)", "VRAM Total Used Memory (B)" and, from
 * --showproductname, "Card Series" (or "Card series" before ROCm 6), "GFX Version". Byte counts are
 * strings. Keys other than card<N> (such as "system") are ignored.
 */
export function parseRocmSmi(json: unknown): GpuInfo[] {
  if (json === null || typeof json !== 'object') return [];
  const gpus: GpuInfo[] = [];
  for (const [key, raw] of Object.entries(json as Record<string, unknown>)) {
    const m = /^card(\d+)$/i.exec(key);
    if (!m || raw === null || typeof raw !== 'object') continue;
    const fields = new Map(Object.entries(raw as Record<string, unknown>).map(([k, v]) => [k.toLowerCase().trim(), String(v).trim()]));
    const bytes = (name: string): number | null => {
      const v = fields.get(name.toLowerCase());
      if (v === undefined || !/^\d+$/.test(v)) return null;
      return Number(v);
    };
    const total = bytes('VRAM Total Memory (B)');
    const used = bytes('VRAM Total Used Memory (B)');
    const series = fields.get('card series') ?? fields.get('card model');
    const gfx = fields.get('gfx version');
    gpus.push({
      vendor: 'amd',
      index: Number(m[1]),
      name: series && series !== 'N/A' ? series : `AMD GPU ${m[1]}`,
      uuid: fields.get('unique id') ?? fields.get('guid') ?? null,
      memoryTotalMiB: total === null ? null : Math.floor(total / 2 ** 20),
      memoryFreeMiB: total === null || used === null ? null : Math.floor((total - used) / 2 ** 20),
      computeCapability: null,
      driverVersion: fields.get('driver version') ?? null,
      source: 'rocm-smi',
      architecture: gfx && /^gfx[0-9a-f]+$/i.test(gfx) ? gfx.toLowerCase() : null,
    });
  }
  return gpus.sort((a, b) => a.index - b.index);
}
