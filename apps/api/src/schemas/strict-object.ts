import { z } from 'zod';

/** The most unknown names one refusal shows. */
const MAX_NAMED_KEYS = 5;

/**
 * An object of `shape`'s keys and no others: one it does not take is refused, not ignored, in
 * the words `refusal` gives the unknown names (the first few; an empty one, `?=1` or `{"":1}`, as
 * `""`, not as nothing).
 */
export function strictObject<Shape extends z.ZodRawShape>(shape: Shape, refusal: (got: string) => string) {
  return z.strictObject(shape, {
    error: (issue) => {
      if (issue.code !== 'unrecognized_keys') return undefined;
      const names = issue.keys.slice(0, MAX_NAMED_KEYS).map((key) => (key === '' ? '""' : key));
      return refusal(names.join(', ') + (issue.keys.length > MAX_NAMED_KEYS ? ', …' : ''));
    },
  });
}
