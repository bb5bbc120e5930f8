import type { CpuInfo } from './types.js';

export type CpuFlags = CpuInfo['flags'];

/** What inference runtimes look for (llama.cpp, PyTorch/oneDNN, bitsandbytes CPU). */
function flagsFrom(set: Set<string>): CpuFlags {
  return {
    avx2: set.has('avx2'),
    avx512: set.has('avx512f'),
    avx512bf16: set.has('avx512_bf16') || set.has('avx512bf16'),
    avx512vnni: set.has('avx512_vnni') || set.has('avx512vnni'),
    amx: set.has('amx_tile') || set.has('amx_bf16') || set.has('amx_int8') || set.has('amx'),
  };
}

/**
 * Parse the instruction-set flags of Linux /proc/cpuinfo (the first "flags" line; every core lists
 * the same set) or of macOS `sysctl -n machdep.cpu.features machdep.cpu.leaf7_features` (upper-case,
 * AVX512F, AVX512VNNI...). Apple Silicon has no x86 flags: everything is false.
 */
export function parseCpuFlags(text: string): CpuFlags {
  const linux = /^(?:flags|Features)\s*:\s*(.*)$/m.exec(text);
  const words = (linux ? linux[1]! : text).toLowerCase().split(/\s+/).filter(Boolean);
  return flagsFrom(new Set(words.map((w) => w.replace(/\./g, '_'))));
}

/** Physical cores and threads from /proc/cpuinfo, for when systeminformation is not asked. */
export function countCpuinfo(text: string): { threads: number; cores: number } {
  const blocks = text.split(/\n\s*\n/).filter((b) => /^processor\s*:/m.test(b));
  const cores = new Set<string>();
  for (const b of blocks) {
    const phys = /^physical id\s*:\s*(\S+)/m.exec(b)?.[1] ?? '0';
    const core = /^core id\s*:\s*(\S+)/m.exec(b)?.[1];
    if (core !== undefined) cores.add(`${phys}:${core}`);
  }
  return { threads: blocks.length, cores: cores.size || blocks.length };
}
