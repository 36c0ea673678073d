import { strictObject } from './strict-object.js';

/**
 * The JSON body of a route that takes none: no body, `null` or `{}`. A field is refused rather
 * than ignored (`{"limit":5}` would act on the default number of jobs; `{"reason":"..."}` on a
 * cancel would be kept nowhere); `hint` follows the refusal. In the OpenAPI document, an object
 * without properties.
 */
export function emptyBody(hint = '') {
  return strictObject({}, (got) => `takes no fields (got ${got})${hint}`)
    .nullish()
    .describe('none');
}
