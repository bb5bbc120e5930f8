import { configSchema, type MstingConfig } from '../../../src/config/schema.js';
import type { Recommendation } from '../../../src/hardware/types.js';

/** A validated config with the given llm section (and the schema's defaults elsewhere). */
export function makeConfig(llm: Record<string, unknown> = {}): MstingConfig {
  return configSchema.parse({ llm });
}

/** A recommendation that assesses every model of `config`; `tooBig` names those that do not fit. */
export function makeRecommendation(config: MstingConfig, tooBig: string[] = []): Recommendation {
  return {
    device: 'cpu',
    precision: 'int8',
    gpuReservation: null,
    reasons: [],
    advice: [],
    models: config.llm.models.map((m) => ({
      name: m.name,
      fits: !tooBig.includes(m.name),
      requiredBytes: 8 * 2 ** 30,
      memoryLimit: '10g',
      quantization: 'int8',
      reason: tooBig.includes(m.name) ? 'needs more memory than this machine has' : 'fits',
    })),
  };
}

/** The typical full-profile setup: phi3 with two replicas, zephyr, llama3 too big for the machine. */
export const TYPICAL_MODELS = [
  { name: 'phi3', repo: 'microsoft/Phi-3-medium-128k-instruct', replicas: 2 },
  { name: 'zephyr', repo: 'HuggingFaceH4/zephyr-7b-beta' },
  { name: 'llama3', repo: 'meta-llama/Llama-3.1-8B', gated: true },
  { name: 'mistral', repo: 'mistralai/Mistral-7B-Instruct-v0.3', enabled: false },
];

/** The lines inside the first block of `conf` that starts with `header` (one level, no nesting). */
export function block(conf: string, header: string): string[] {
  const lines = conf.split('\n');
  const start = lines.findIndex((l) => l.trim() === `${header} {`);
  if (start < 0) throw new Error(`no block "${header}"`);
  const out: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line.trim() === '}') break;
    out.push(line.trim());
  }
  return out;
}
