// Writes schema/config.schema.json from the built zod schema (run by `npm run schema`).
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const { jsonSchemaText } = await import('../dist/config/json-schema.js');
const target = fileURLToPath(new URL('../schema/config.schema.json', import.meta.url));
await writeFile(target, jsonSchemaText());
console.log(`wrote ${target}`);
