/**
 * A time as the API takes it (run_at, and a history's from/to): RFC 3339, that is ISO 8601 with
 * its time zone, `T` and `Z` in either case, or a space for `T`, as RFC 3339 allows, and the
 * seconds optional, as ISO 8601 allows (`2030-01-01T09:00Z`). Not a leap second (`:60`): a job's
 * time need not be that exact.
 */
export const ZONED_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:[Zz]|[+-](\d{2}):(\d{2}))$/;

/** Days in `month` (1 to 12) of `year`, by the Gregorian rule (Date.UTC reads years 0 to 99 as 1900 to 1999). */
function daysIn(year: number, month: number): number {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]!;
}

/** What part of a time of ZONED_TIME's form does not exist (30 February, 25 o'clock); undefined when none, or when `text` is not of that form. */
export function missingPart(text: string): string | undefined {
  const parts = ZONED_TIME.exec(text);
  if (!parts) return undefined;
  const [year, month, day, hour, minute, second = 0, offsetHours = 0, offsetMinutes = 0] = parts.slice(1).map((part) => Number(part ?? 0)) as number[];
  if (month! < 1 || month! > 12) return `has no month ${month} (months are 01 to 12)`;
  const days = daysIn(year!, month!);
  if (day! < 1 || day! > days) return `has no day ${day} in ${text.slice(0, 7)}, which has ${days} days`;
  if (hour! > 23 || minute! > 59 || second > 59) return `has no time ${text.slice(11, 19).replace(/[Zz+-].*$/, '')} (hours are 00 to 23, minutes and seconds 00 to 59; a leap second is not taken)`;
  if (offsetHours > 23 || offsetMinutes > 59) return 'has a time zone offset that does not exist (hours 00 to 23, minutes 00 to 59)';
  return undefined;
}

/** The time `text` (which ZONED_TIME and missingPart took) names, in ms since the epoch. */
export function zonedTimeMs(text: string): number {
  return Date.parse(text.toUpperCase().replace(' ', 'T'));
}
