import type { Document } from './operations.js';

/**
 * zod gives every `.int()` the bounds of a safe integer, `minimum: -9007199254740991` and
 * `maximum: 9007199254740991`, unless the schema sets its own. They tell a client nothing, and
 * Swagger UI and Postman made their examples from them: `"attempts": -9007199254740991` in a
 * job. The document drops them; a bound a schema sets itself (a `limit` of 1 to 1,000) stays.
 */
function dropIn(value: unknown): void {
  if (Array.isArray(value)) {
    for (const item of value) dropIn(item);
    return;
  }
  if (!value || typeof value !== 'object') return;
  const schema = value as Record<string, unknown>;
  if (schema['minimum'] === Number.MIN_SAFE_INTEGER) delete schema['minimum'];
  if (schema['maximum'] === Number.MAX_SAFE_INTEGER) delete schema['maximum'];
  for (const nested of Object.values(schema)) dropIn(nested);
}

export function dropSafeIntegerBounds(document: Document): void {
  dropIn(document.paths);
  dropIn(document.components);
}
