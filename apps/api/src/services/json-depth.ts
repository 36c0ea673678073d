/**
 * The deepest nesting of arrays and objects the API shows as JSON. Other producers write what
 * they like into the streams (README, Producing jobs from any Redis client): JSON.parse reads a
 * payload nested 100,000 levels deep, but JSON.stringify runs out of stack on it (at about 5,000
 * levels), and with it the answer of every view that holds it. What Conveyor itself takes is far
 * shallower (params at most MAX_PARAMS_DEPTH, 64, levels deep).
 */
export const MAX_SHOWN_DEPTH = 256;

const OPEN_ARRAY = 0x5b; // [
const OPEN_OBJECT = 0x7b; // {
const CLOSE_ARRAY = 0x5d; // ]
const CLOSE_OBJECT = 0x7d; // }
const QUOTE = 0x22; // "
const BACKSLASH = 0x5c; // \

/**
 * Whether JSON `text` nests arrays and objects deeper than `max` levels (brackets inside strings
 * do not count). Reads the text without parsing it, and not at all when it is too short to.
 */
export function nestedDeeperThan(text: string, max = MAX_SHOWN_DEPTH): boolean {
  if (text.length <= max) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > max) return true;
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) depth--;
  }
  return false;
}
