import type { MstingConfig } from '../../config/schema.js';
import type { CatalogueCondition, CatalogueDependency, CatalogueEntry } from './schema.js';

/** What each condition a catalogue file's `when:` block may name means, in config.yml terms. */
export const CONDITION_HOLDS: Record<CatalogueCondition, (config: MstingConfig) => boolean> = {
  'vault-dev': (config) => config.vault.mode === 'dev',
  'mail-via-mailpit': (config) => config.mail.smtp.host === 'mailpit',
};

/** A catalogue entry with its `when:` blocks applied for one config. */
export type ResolvedEntry = Omit<CatalogueEntry, 'when'>;

/** The entry with the keys of every `when:` block whose condition holds replaced, in file order. */
export function resolveEntry(entry: CatalogueEntry, config: MstingConfig): ResolvedEntry {
  const { when, ...base } = entry;
  let resolved: ResolvedEntry = base;
  for (const [condition, replacement] of Object.entries(when) as [CatalogueCondition, Partial<ResolvedEntry>][]) {
    if (CONDITION_HOLDS[condition](config)) resolved = { ...resolved, ...replacement };
  }
  return resolved;
}

/** Compose's name for each dependency condition a catalogue file writes. */
export const COMPOSE_CONDITION = {
  healthy: 'service_healthy',
  completed: 'service_completed_successfully',
  started: 'service_started',
} as const satisfies Record<CatalogueDependency, string>;
