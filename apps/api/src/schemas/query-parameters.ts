import { z } from 'zod';

/** The most unknown parameters one refusal names. */
const MAX_NAMED_PARAMETERS = 5;

/**
 * A query string of `shape`'s parameters and no others. A route that acts on many jobs at once
 * refuses a parameter it does not take rather than ignoring it: a typo (`?Limit=5`) would
 * otherwise act on the default number of jobs. `hint` follows the refusal.
 */
export function onlyParameters<Shape extends z.ZodRawShape>(shape: Shape, hint = '') {
  const taken = Object.keys(shape);
  const takes = taken.length > 0 ? `takes only ${taken.join(', ')}` : 'takes no parameters';
  return z.strictObject(shape, {
    error: (issue) => {
      if (issue.code !== 'unrecognized_keys') return undefined;
      // An empty name (`?=1`, `{"":1}`) is shown as "", not as nothing.
      const got = issue.keys.slice(0, MAX_NAMED_PARAMETERS).map((key) => (key === '' ? '""' : key)).join(', ') + (issue.keys.length > MAX_NAMED_PARAMETERS ? ', …' : '');
      return `${takes} (got ${got})${hint}`;
    },
  });
}
