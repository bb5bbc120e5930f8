import { GiB } from './units.js';

/**
 * How much memory a model needs, from its parameter count. The rule most sizing tools share
 * (llmfit, LM Studio): weights = parameters × bytes per parameter, plus the KV cache for the
 * context, plus a fixed runtime overhead.
 */

export type Quantization = 'none' | 'int8' | 'int4';

/** Bytes per parameter: bf16/fp16 weights (no quantization) 2, int8 1, int4 0.5. */
export const BYTES_PER_PARAM: Record<Quantization, number> = { none: 2, int8: 1, int4: 0.5 };

/** Context the KV cache is sized for. */
export const KV_CONTEXT_TOKENS = 8192;

/**
 * KV cache bytes per billion parameters per token of context, at fp16: llmfit's fallback of
 * 0.000008 GB × parameters (B) × context when the architecture is not known.
 */
export const KV_BYTES_PER_B_PER_TOKEN = 8000;

/** The serving runtime's own memory per model (llmfit adds 0.5 GB). */
export const MODEL_RUNTIME_OVERHEAD = 0.5 * GiB;

export interface ModelEstimate {
  weightsBytes: number;
  kvBytes: number;
  overheadBytes: number;
  totalBytes: number;
}

export function estimateModelBytes(parametersB: number, quantization: Quantization): ModelEstimate {
  const weightsBytes = parametersB * 1e9 * BYTES_PER_PARAM[quantization];
  const kvBytes = KV_BYTES_PER_B_PER_TOKEN * parametersB * KV_CONTEXT_TOKENS;
  const totalBytes = Math.ceil(weightsBytes + kvBytes + MODEL_RUNTIME_OVERHEAD);
  return { weightsBytes, kvBytes, overheadBytes: MODEL_RUNTIME_OVERHEAD, totalBytes };
}

/** Size names some families use instead of a count (Phi-3: mini 3.8B, small 7B, medium 14B). */
const PHI3_SIZES: Record<string, number> = { mini: 3.8, small: 7, medium: 14 };

/**
 * The parameter count, from `parameters_b` when config gives it, else from the repository or name:
 * "Llama-3.1-8B" 8, "zephyr-7b-beta" 7, "Qwen2.5-1.5B" 1.5, "Mixtral-8x7B" 56 (counted in full:
 * every expert is loaded), "gpt2-355M" 0.355, "Phi-3-medium-128k" 14. Null when nothing says.
 */
export function guessParametersB(model: { name: string; repo: string; parameters_b?: number | undefined }): {
  value: number | null;
  source: 'config' | 'name' | 'unknown';
} {
  if (model.parameters_b !== undefined) return { value: model.parameters_b, source: 'config' };
  for (const text of [model.repo.split('/').pop() ?? model.repo, model.name]) {
    const moe = /(?:^|[^a-z0-9.])(\d+)x(\d+(?:\.\d+)?)b(?![a-z])/i.exec(text);
    if (moe) return { value: Number(moe[1]) * Number(moe[2]), source: 'name' };
    const b = [...text.matchAll(/(?:^|[^a-z0-9.])(\d+(?:\.\d+)?)([bm])(?![a-z])/gi)].pop();
    if (b) return { value: Number(b[1]) / (b[2]!.toLowerCase() === 'm' ? 1000 : 1), source: 'name' };
    const phi = /phi-?3(?:\.5)?-(mini|small|medium)/i.exec(text);
    if (phi) return { value: PHI3_SIZES[phi[1]!.toLowerCase()]!, source: 'name' };
  }
  return { value: null, source: 'unknown' };
}
