import type { MstingConfig } from './schema.js';

/**
 * Values derived from others once the schema has applied its defaults. Pure: the same config in
 * gives the same config out, so `config show` prints exactly what rendering uses.
 */
export function normalizeConfig(config: MstingConfig): MstingConfig {
  return {
    ...config,
    mail: {
      ...config.mail,
      from_address: config.mail.from_address ?? `no-reply@${config.hostname}`,
    },
  };
}
