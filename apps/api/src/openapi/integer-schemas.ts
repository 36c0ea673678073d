import type { Document } from './operations.js';

/**
 * Integer schemas as a client reads them:
 * - zod gives every `.int()` the bounds of a safe integer, `minimum: -9007199254740991` and
 *   `maximum: 9007199254740991`, unless the schema sets its own. They tell a client nothing, and
 *   Swagger UI and Postman made their examples from them: `"attempts": -9007199254740991` in a
 *   job. The document drops them; a bound a schema sets itself (a `limit` of 1 to 1,000) stays.
 * - A query parameter read from its text (decimal-integer.ts) has its default as that text,
 *   `"default": "50"`, which strict OpenAPI validators refuse in an integer and generated clients
 *   typed as a string. The document gives it as the number.
 */
function tidyIn(value: unknown): void {
  if (Array.isArray(value)) {
    for (const item of value) tidyIn(item);
    return;
  }
  if (!value || typeof value !== 'object') return;
  const schema = value as Record<string, unknown>;
  if (schema['minimum'] === Number.MIN_SAFE_INTEGER) delete schema['minimum'];
  if (schema['maximum'] === Number.MAX_SAFE_INTEGER) delete schema['maximum'];
  const fallback = schema['default'];
  if (schema['type'] === 'integer' && typeof fallback === 'string' && /^\d{1,15}$/.test(fallback)) schema['default'] = Number(fallback);
  for (const nested of Object.values(schema)) tidyIn(nested);
}

export function tidyIntegerSchemas(document: Document): void {
  tidyIn(document.paths);
  tidyIn(document.components);
}
