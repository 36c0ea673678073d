import { z } from 'zod';

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

/**
 * A time as RFC 3339 writes it (ISO 8601 with its time zone): `T` and `Z` in either case, or a
 * space for `T`, as RFC 3339 allows, and the seconds optional, as ISO 8601 allows
 * (`2030-01-01T09:00Z`). Not a leap second (`:60`): a job's time need not be that exact.
 */
const TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:[Zz]|[+-](\d{2}):(\d{2}))$/;

/** Days in `month` (1 to 12) of `year`, by the Gregorian rule (Date.UTC reads years 0 to 99 as 1900 to 1999). */
function daysIn(year: number, month: number): number {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]!;
}

/** What is wrong with `text` as a time: its form, or a part that does not exist (30 February, 25 o'clock); undefined when nothing is. */
function timeFault(text: string): string | undefined {
  const parts = TIME.exec(text);
  if (!parts) return `must be an RFC 3339 time with its time zone, ${examples()}`;
  const [year, month, day, hour, minute, second = 0, offsetHours = 0, offsetMinutes = 0] = parts.slice(1).map((part) => Number(part ?? 0)) as number[];
  if (month! < 1 || month! > 12) return `has no month ${month} (months are 01 to 12); ${examples()}`;
  const days = daysIn(year!, month!);
  if (day! < 1 || day! > days) return `has no day ${day} in ${text.slice(0, 7)}, which has ${days} days`;
  if (hour! > 23 || minute! > 59 || second > 59) return `has no time ${text.slice(11, 19).replace(/[Zz+-].*$/, '')} (hours are 00 to 23, minutes and seconds 00 to 59; a leap second is not taken)`;
  if (offsetHours > 23 || offsetMinutes > 59) return 'has a time zone offset that does not exist (hours 00 to 23, minutes 00 to 59)';
  return undefined;
}

/** The time `text` (which runAtSchema took) names, in ms since the epoch. */
export function runAtMs(text: string): number {
  return Date.parse(text.toUpperCase().replace(' ', 'T'));
}

/** `run_at` of a job: a time that exists, with its time zone, at most MAX_DELAY_MS ahead. */
export const runAtSchema = z
  .string()
  .superRefine((text, ctx) => {
    const fault = timeFault(text);
    if (fault) ctx.addIssue({ code: 'custom', message: fault, abort: true });
    else if (runAtMs(text) > Date.now() + MAX_DELAY_MS) ctx.addIssue({ code: 'custom', message: 'is more than 30 days from now; a job waits at most 30 days for its start (run_at or delay_ms)' });
  })
  // Not `format: date-time`: that is RFC 3339's grammar, seconds required, and a client checking
  // against it would refuse the `2030-01-01T09:00Z` taken here. The pattern is what is taken.
  .meta({ pattern: TIME.source });
