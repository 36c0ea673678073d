import type { z } from 'zod';
import { strictObject } from './strict-object.js';

/**
 * A query string of `shape`'s parameters and no others. A route that acts on many jobs at once
 * refuses a parameter it does not take rather than ignoring it: a typo (`?Limit=5`) would
 * otherwise act on the default number of jobs. `hint` follows the refusal.
 */
export function onlyParameters<Shape extends z.ZodRawShape>(shape: Shape, hint = '') {
  const taken = Object.keys(shape);
  const takes = taken.length > 0 ? `takes only ${taken.join(', ')}` : 'takes no parameters';
  return strictObject(shape, (got) => `${takes} (got ${got})${hint}`);
}
