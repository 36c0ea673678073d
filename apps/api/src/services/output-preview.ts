/**
 * Stage outputs can be large (the full text of a 20 MiB PDF). `GET /jobs/:id` shows a preview of
 * an output whose JSON is over `LIMIT` bytes: long strings cut to their first characters and long
 * arrays to their first items, each cut marked. The whole output stays one GET away.
 */
const LIMIT = 16 * 1024;
const STRING_CHARS = 500;
const ARRAY_ITEMS = 100;

function shorten(value: unknown): unknown {
  if (typeof value === 'string') {
    return value.length > STRING_CHARS ? `${value.slice(0, STRING_CHARS)}… (${value.length - STRING_CHARS} more characters)` : value;
  }
  if (Array.isArray(value)) {
    const items = value.slice(0, ARRAY_ITEMS).map(shorten);
    return value.length > ARRAY_ITEMS ? [...items, `… (${value.length - ARRAY_ITEMS} more items)`] : items;
  }
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, shorten(inner)]));
  }
  return value;
}

/** The output as stored when it is small, else its preview; `truncated` says which. */
export function previewOutput(stored: string | undefined, parse: (text: string | undefined) => unknown): { output: unknown; truncated: boolean } {
  if (stored === undefined) return { output: null, truncated: false };
  if (stored.length <= LIMIT) return { output: parse(stored), truncated: false };
  return { output: shorten(parse(stored)), truncated: true };
}
