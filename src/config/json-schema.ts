import { z } from 'zod';
import { configSchema } from './schema.js';

/**
 * config.yml as JSON Schema, generated from the zod schema (the input side: what a user may
 * write, defaults optional). Editors use it for completion and inline errors; the committed copy
 * in schema/config.schema.json is checked against this by a test.
 */
export function buildJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(configSchema, { io: 'input', target: 'draft-2020-12' }) as Record<string, unknown>;
  return { ...schema, title: 'msting config.yml' };
}

export function jsonSchemaText(): string {
  return `${JSON.stringify(buildJsonSchema(), null, 2)}\n`;
}
