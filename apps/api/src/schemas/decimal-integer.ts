import { z } from 'zod';

/**
 * A whole number from `min` to `max` as a form field or a query parameter sends it: decimal digits
 * and nothing else. z.coerce.number() would take "0x10" as 16, " 3 " as 3, "1e2" as 100, and an
 * empty value as 0 (then refused as "at least 1", which is not what was wrong). The OpenAPI
 * document shows an integer.
 */
export function decimalInteger(min: number, max: number) {
  return z
    .string()
    .regex(/^\d{1,16}$/, `must be a whole number written in decimal digits, from ${min} to ${max}`)
    .transform(Number)
    .pipe(z.number().int().min(min).max(max))
    .meta({ type: 'integer', minimum: min, maximum: max, pattern: undefined });
}

/** decimalInteger, `fallback` when left out. */
export function decimalIntegerOr(fallback: number, min: number, max: number) {
  // A default of the input side (the text a client would send), so the OpenAPI document shows it.
  return decimalInteger(min, max).prefault(String(fallback));
}
