import { z } from 'zod';

/** The most unknown fields one refusal names. */
const MAX_NAMED_FIELDS = 5;

/**
 * The JSON body of a route that takes none: no body, `null` or `{}`. A field is refused rather
 * than ignored (`{"limit":5}` would act on the default number of jobs; `{"reason":"..."}` on a
 * cancel would be kept nowhere); `hint` follows the refusal. In the OpenAPI document, an object
 * without properties.
 */
export function emptyBody(hint = '') {
  return z
    .strictObject({}, {
      error: (issue) => {
        if (issue.code !== 'unrecognized_keys') return undefined;
        // An empty name (`?=1`, `{"":1}`) is shown as "", not as nothing.
        const got = issue.keys.slice(0, MAX_NAMED_FIELDS).map((key) => (key === '' ? '""' : key)).join(', ') + (issue.keys.length > MAX_NAMED_FIELDS ? ', …' : '');
        return `takes no fields (got ${got})${hint}`;
      },
    })
    .nullish()
    .describe('none');
}
