/**
 * How deeply `params` may nest objects and arrays. Far more than any model's parameters need; a
 * body nested thousands deep (1 MiB holds 500,000 levels) would overflow the stack when the job
 * is written as JSON, or later when a worker or a model adapter writes it again. The API refuses
 * such params with a 400; a worker dead-letters a job another producer queued with them
 * (INVALID_PARAMS), as no attempt can run it.
 */
export const MAX_PARAMS_DEPTH = 64;

export interface ParamsFault {
  /** Where, from `params` down; none when it is said of params itself (too deep: the path would be as long as the nesting). */
  path?: string[];
  message: string;
}

/**
 * The first thing in `value` that `params` may not hold, if any (stops looking there): objects or
 * arrays nested more than `depth` levels deep, or a number JSON cannot hold, which JSON.parse reads
 * as Infinity (1e309) and JSON.stringify would store as null.
 */
export function paramsFault(value: unknown, depth = MAX_PARAMS_DEPTH): ParamsFault | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : { path: [], message: 'is a number too large to keep: it reads as Infinity, and would be stored as null' };
  if (typeof value !== 'object' || value === null) return undefined;
  if (depth === 0) return { message: `may nest objects and arrays at most ${MAX_PARAMS_DEPTH} levels deep` };
  for (const key in value) {
    const fault = paramsFault((value as Record<string, unknown>)[key], depth - 1);
    if (fault) {
      fault.path?.unshift(key);
      return fault;
    }
  }
  return undefined;
}
