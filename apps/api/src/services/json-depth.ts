/**
 * The deepest nesting of arrays and objects the API shows as JSON. Other producers write what
 * they like into the streams (README, Producing jobs from any Redis client): JSON.parse reads a
 * payload nested 100,000 levels deep, but JSON.stringify runs out of stack on it (at about 5,000
 * levels), and with it the answer of every view that holds it. What Conveyor itself takes is far
 * shallower (params at most MAX_PARAMS_DEPTH, 64, levels deep).
 */
export const MAX_SHOWN_DEPTH = 256;

/**
 * The deepest nesting a JSON request body may have. V8's JSON.parse takes time that grows faster
 * than the text on deep nesting, all of it on the event loop: a 1 MiB body of brackets held every
 * other request for 1.5 s, a 16 MiB batch for 13 s. Bodies Conveyor takes are far shallower (a
 * batch's params at most MAX_PARAMS_DEPTH, 64, levels below the body's own three); between the
 * two, the schema says what is too deep.
 */
export const MAX_BODY_DEPTH = 128;

/**
 * The most objects and arrays a JSON request body may hold in all. JSON.parse spends about 0.6 µs
 * on each, however small: 16 MiB of `{},{},…` held every other request for 5 s. 200,000 cost it
 * about 130 ms; a full batch of 1,000 chat jobs with 100 messages each holds about 103,000.
 */
export const MAX_BODY_CONTAINERS = 200_000;

/** Which limit JSON text passes: too deep, or too many objects and arrays. */
export type JsonExcess = 'depth' | 'containers';

const OPEN_ARRAY = 0x5b; // [
const OPEN_OBJECT = 0x7b; // {
const CLOSE_ARRAY = 0x5d; // ]
const CLOSE_OBJECT = 0x7d; // }
const QUOTE = 0x22; // "
const BACKSLASH = 0x5c; // \

/**
 * Whether JSON `text` nests arrays and objects deeper than `max` levels (brackets inside strings
 * do not count). Reads the text without parsing it, and not at all when it is too short to; a
 * string is skipped with indexOf, from one quote to the next that no odd run of backslashes escapes.
 * About a third of JSON.parse's time on a batch of jobs, and it stops at the first level too many.
 */
export function nestedDeeperThan(text: string, max = MAX_SHOWN_DEPTH): boolean {
  return jsonPastLimits(text, max) === 'depth';
}

/**
 * The limit JSON `text` passes, if any: nesting deeper than `maxDepth`, or more than
 * `maxContainers` objects and arrays in all (read as nestedDeeperThan reads it, and as quickly).
 */
export function jsonPastLimits(text: string, maxDepth: number, maxContainers = Infinity): JsonExcess | undefined {
  // Each object or array takes two characters at least.
  if (text.length <= maxDepth && text.length <= 2 * maxContainers) return undefined;
  let depth = 0;
  let containers = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i = endOfString(text, i);
      if (i === -1) return undefined;
    } else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > maxDepth) return 'depth';
      if (++containers > maxContainers) return 'containers';
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) depth--;
  }
  return undefined;
}

/** The index of the quote that ends the string opened at `start`, or -1 if none does. */
function endOfString(text: string, start: number): number {
  for (let end = text.indexOf('"', start + 1); end !== -1; end = text.indexOf('"', end + 1)) {
    let escapes = 0;
    while (text.charCodeAt(end - 1 - escapes) === BACKSLASH) escapes++;
    if (escapes % 2 === 0) return end;
  }
  return -1;
}
