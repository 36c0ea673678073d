import { backoffSchema, type Backoff } from '@conveyor/shared';

export const DEFAULT_BACKOFF: Backoff = backoffSchema.parse({});

/**
 * Delay before retry number `attempt` (the attempt that just failed, from 1): exponential or
 * fixed, capped, with "equal jitter" (half fixed, half random) so retries of jobs that failed
 * together do not come back together. `asked` is how long the failure asked to wait (a model
 * endpoint's Retry-After): the delay is at least that, but never over max_delay_ms.
 */
export function retryDelay(backoff: Backoff, attempt: number, random: () => number = Math.random, asked?: number): number {
  const growth = backoff.type === 'exponential' ? 2 ** Math.min(attempt - 1, 30) : 1;
  const delay = Math.min(backoff.max_delay_ms, backoff.delay_ms * growth);
  const jittered = Math.round(delay / 2 + random() * (delay / 2));
  if (asked === undefined || !Number.isFinite(asked) || asked <= jittered) return jittered;
  return Math.max(jittered, Math.min(Math.round(asked), backoff.max_delay_ms));
}

/** The wait a processor's error asks for before a retry (`retryAfterMs`, ms), if it names a sane one. */
export function retryAfterOf(error: unknown): number | undefined {
  const asked = (error as { retryAfterMs?: unknown } | null)?.retryAfterMs;
  return typeof asked === 'number' && Number.isFinite(asked) && asked >= 0 ? asked : undefined;
}

/** The job's own backoff (stored as JSON) or the default; a corrupt value falls back to the default. */
export function backoffOf(stored: string | undefined): Backoff {
  if (stored === undefined) return DEFAULT_BACKOFF;
  try {
    const parsed = backoffSchema.safeParse(JSON.parse(stored));
    return parsed.success ? parsed.data : DEFAULT_BACKOFF;
  } catch {
    return DEFAULT_BACKOFF;
  }
}
