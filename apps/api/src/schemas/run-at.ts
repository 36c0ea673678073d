import { z } from 'zod';
import { missingPart, ZONED_TIME, zonedTimeMs } from './zoned-time.js';

/** The longest a job may wait for its start: run_at or delay_ms. */
export const MAX_DELAY_MS = 30 * 86_400_000;

/**
 * Examples of the form, tomorrow at 09:00 UTC: a fixed date would one day be in the past, or
 * (2030-01-01 was) further ahead than a job may wait.
 */
function examples(): string {
  const day = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
  return `e.g. ${day}T09:00:00Z or ${day}T10:00:00+01:00`;
}

/** What is wrong with `text` as a time: its form, or a part that does not exist (30 February, 25 o'clock); undefined when nothing is. */
function timeFault(text: string): string | undefined {
  if (!ZONED_TIME.test(text)) return `must be an RFC 3339 time with its time zone, ${examples()}`;
  const missing = missingPart(text);
  return missing && missing.startsWith('has no month') ? `${missing}; ${examples()}` : missing;
}

/** `run_at` of a job: a time that exists, with its time zone, at most MAX_DELAY_MS ahead. */
export const runAtSchema = z
  .string()
  .superRefine((text, ctx) => {
    const fault = timeFault(text);
    if (fault) ctx.addIssue({ code: 'custom', message: fault, abort: true });
    else if (zonedTimeMs(text) > Date.now() + MAX_DELAY_MS) ctx.addIssue({ code: 'custom', message: 'is more than 30 days from now; a job waits at most 30 days for its start (run_at or delay_ms)' });
  })
  // Not `format: date-time`: that is RFC 3339's grammar, seconds required, and a client checking
  // against it would refuse the `2030-01-01T09:00Z` taken here. The pattern is what is taken.
  .meta({ pattern: ZONED_TIME.source });
