import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

/** Files shipped with the package, found relative to this module (src/config or dist/config). */
export const TEMPLATE_FILE = fileURLToPath(new URL('../../templates/config.yml', import.meta.url));
export const JSON_SCHEMA_FILE = fileURLToPath(new URL('../../schema/config.schema.json', import.meta.url));

/**
 * The commented starter config.yml. Its first line tells YAML editors (yaml-language-server)
 * where the JSON Schema of this msting version is, for completion and inline errors.
 */
export async function starterConfig(schemaLocation: string = JSON_SCHEMA_FILE): Promise<string> {
  const text = await readFile(TEMPLATE_FILE, 'utf8');
  return text.replace('@SCHEMA@', schemaLocation);
}
