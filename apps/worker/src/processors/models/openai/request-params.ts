import { z } from 'zod';
import { NonRetryableError } from '../../non-retryable-error.js';

/** The named params a request carries, as given; the endpoint judges their values. */
export function pickParams(params: Record<string, unknown>, names: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(names.filter((name) => params[name] !== undefined).map((name) => [name, params[name]]));
}

/** `params[name]` checked against `schema`; a bad value is the caller's mistake, not worth a retry. */
export function readParam<Schema extends z.ZodType>(params: Record<string, unknown>, name: string, schema: Schema, expected: string): z.output<Schema> {
  const parsed = schema.safeParse(params[name]);
  if (!parsed.success) {
    throw new NonRetryableError(`params.${name} must be ${expected}: ${z.prettifyError(parsed.error).replace(/\s+/g, ' ')}`, 'INVALID_PARAMS');
  }
  return parsed.data;
}
