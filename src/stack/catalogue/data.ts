import { fileURLToPath } from 'node:url';
import { loadCatalogue } from './load.js';
import type { Catalogue } from './schema.js';

/**
 * The service catalogue, read from the repository's compose/ folder. This module is what the
 * tests and the type checker see; scripts/build.mjs replaces it in the bundle with the catalogue
 * it checked at build time, as plain data, so msting never parses the YAML at start-up.
 */
export const CATALOGUE: Catalogue = loadCatalogue(fileURLToPath(new URL('../../../compose/', import.meta.url)));
