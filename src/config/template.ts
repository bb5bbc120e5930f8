import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../package-info.js';

/** Files shipped with the package. */
export const TEMPLATE_FILE = join(PACKAGE_ROOT, 'templates', 'config.yml');
export const JSON_SCHEMA_FILE = join(PACKAGE_ROOT, 'schema', 'config.schema.json');

/**
 * The commented starter config.yml. Its first line tells YAML editors (yaml-language-server)
 * where the JSON Schema of this msting version is, for completion and inline errors.
 */
export async function starterConfig(schemaLocation: string = JSON_SCHEMA_FILE): Promise<string> {
  const text = await readFile(TEMPLATE_FILE, 'utf8');
  return text.replace('@SCHEMA@', schemaLocation);
}
