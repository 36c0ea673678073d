import type { OpenAPIV3_1 } from 'openapi-types';
import { operationsOf, responsesOf, type Document } from './operations.js';

/**
 * The answers' timestamps are ISO 8601 strings in UTC. Their zod schemas are plain strings (the
 * serializer checks nothing more), so the document says `format: date-time` here, by field name.
 */
const TIMESTAMP_FIELDS = new Set(['created_at', 'started_at', 'finished_at', 'updated_at', 'retry_at', 'dead_at', 'at', 'added_at', 'since', 'measured_at']);

type Schema = OpenAPIV3_1.SchemaObject;

function isString(schema: Schema): boolean {
  return schema.type === 'string' || (Array.isArray(schema.type) && schema.type.includes('string'));
}

function markTimestampsIn(schema: Schema | undefined): void {
  if (!schema || typeof schema !== 'object') return;
  for (const [name, property] of Object.entries(schema.properties ?? {}) as [string, Schema][]) {
    if (TIMESTAMP_FIELDS.has(name) && isString(property)) property.format = 'date-time';
    markTimestampsIn(property);
  }
  for (const nested of ['items' in schema ? schema.items : undefined, schema.additionalProperties, ...(schema.anyOf ?? []), ...(schema.oneOf ?? []), ...(schema.allOf ?? [])]) {
    if (nested && typeof nested === 'object') markTimestampsIn(nested as Schema);
  }
}

export function markTimestamps(document: Document): void {
  for (const { operation } of operationsOf(document)) {
    for (const response of Object.values(responsesOf(operation))) markTimestampsIn(response.content?.['application/json']?.schema as Schema | undefined);
  }
}
