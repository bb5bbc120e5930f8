import { fileURLToPath } from 'node:url';
import { loadTemplates } from './load.js';
import type { TemplateFile } from './names.js';

/**
 * The service config templates, read from the repository's templates/ folder. This module is what
 * the tests and the type checker see; scripts/build.mjs replaces it in the bundle with the
 * templates it checked at build time, as plain data, so msting never parses them at start-up.
 */
export const TEMPLATES: Record<TemplateFile, Record<string, unknown>> = loadTemplates(fileURLToPath(new URL('../../../templates/', import.meta.url)));
