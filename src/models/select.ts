import type { MstingConfig, ModelConfig } from '../config/schema.js';
import { usageError } from '../errors.js';

/**
 * The models a command acts on: the names given (each must be in `llm.models`), else the
 * fallback set (the enabled ones for download, all of them for list and verify).
 */
export function selectModels(config: MstingConfig, names: readonly string[] | undefined, fallback: 'enabled' | 'all'): ModelConfig[] {
  const all = config.llm.models;
  if (!names || names.length === 0) return fallback === 'enabled' ? all.filter((m) => m.enabled) : [...all];
  const unknown = names.filter((n) => !all.some((m) => m.name === n));
  if (unknown.length > 0) {
    const known = all.map((m) => m.name).join(', ') || 'none';
    throw usageError(`no model named ${unknown.map((n) => `"${n}"`).join(', ')} in config.yml (llm.models: ${known})`, 'add it under llm.models in config.yml, or pick one of the names listed');
  }
  const wanted = new Set(names);
  return all.filter((m) => wanted.has(m.name));
}
