import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { buildJsonSchema, jsonSchemaText } from '../../../src/config/json-schema.js';
import { JSON_SCHEMA_FILE } from '../../../src/config/template.js';

describe('schema/config.schema.json', () => {
  it('matches the zod schema (run `npm run schema` after changing src/config/schema.ts)', async () => {
    expect(await readFile(JSON_SCHEMA_FILE, 'utf8')).toBe(jsonSchemaText());
  });

  it('describes every top-level section and forbids unknown keys', () => {
    const schema = buildJsonSchema() as { properties: Record<string, { description?: string }>; additionalProperties: boolean };
    expect(schema.additionalProperties).toBe(false);
    for (const [key, value] of Object.entries(schema.properties)) expect(value.description, key).toBeTruthy();
    expect(Object.keys(schema.properties)).toContain('llm');
  });
});
