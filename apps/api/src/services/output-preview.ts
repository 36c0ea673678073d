import { nestedDeeperThan } from './json-depth.js';

/**
 * Stage outputs can be large (the full text of a 20 MiB PDF). `GET /jobs/:id` shows a preview of
 * an output whose JSON is over `LIMIT` bytes: long strings cut to their first characters and long
 * arrays to their first items, each cut marked. The whole output stays one GET away.
 */
const LIMIT = 16 * 1024;
const STRING_CHARS = 500;
const ARRAY_ITEMS = 100;

function shorten(value: unknown): unknown {
  if (typeof value === 'string') {
    return value.length > STRING_CHARS ? `${value.slice(0, STRING_CHARS)}… (${value.length - STRING_CHARS} more characters)` : value;
  }
  if (Array.isArray(value)) {
    const items = value.slice(0, ARRAY_ITEMS).map(shorten);
    return value.length > ARRAY_ITEMS ? [...items, `… (${value.length - ARRAY_ITEMS} more items)`] : items;
  }
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, shorten(inner)]));
  }
  return value;
}

/**
 * The longest output `GET /jobs/:id` reads whole. Past it, Redis sends only its first this many
 * bytes (see readJob), and the preview is made from them: a poll of a 20 MiB document's job moved
 * its whole text, and parsed it, each time. Redis takes them from the 64 KiB it keeps of each long
 * output (complete-n.lua, HEAD_BYTES); were this larger, it would read the whole output again.
 */
export const LONGEST_READ_WHOLE = 4 * LIMIT;

/**
 * The output as stored when it is small, else its preview; `truncated` says which. `cutFrom` is
 * the whole output's length when `stored` holds only its beginning.
 */
export function previewOutput(stored: string | undefined, parse: (text: string | undefined) => unknown, cutFrom?: number): { output: unknown; truncated: boolean } {
  if (stored === undefined) return { output: null, truncated: false };
  if (cutFrom !== undefined) {
    // Read by recursive descent: a beginning nested deeper than can be shown again is shown as text.
    if (nestedDeeperThan(stored)) return { output: `${stored.slice(0, STRING_CHARS)}${CUT}`, truncated: true };
    return { output: new PrefixPreview(stored).value() ?? null, truncated: true };
  }
  if (stored.length <= LIMIT) return { output: parse(stored), truncated: false };
  return { output: shorten(parse(stored)), truncated: true };
}

/** Marks where an output read only in part stops: the rest is one GET away (output_url). */
const CUT = '… (cut here: the whole output is at output_url)';

/**
 * The preview of an output of which only the beginning was read: the JSON read as far as it goes,
 * shortened as `shorten` does. A string cut off in its middle keeps what was read (up to
 * STRING_CHARS) and the CUT mark, an array cut off ends with the mark, and an object cut off has
 * the members read whole so far; a number or a key cut off is left out.
 */
class PrefixPreview {
  #at = 0;
  #cut = false;

  constructor(private readonly text: string) {}

  /** The value read, or undefined when it was cut off before anything could be read. */
  value(): unknown {
    this.#space();
    const c = this.text[this.#at];
    if (c === undefined) return this.#cutOff();
    if (c === '{') return this.#object();
    if (c === '[') return this.#array();
    if (c === '"') return this.#string();
    return this.#literal();
  }

  #object(): Record<string, unknown> {
    this.#at++;
    const out: Record<string, unknown> = {};
    while (!this.#cut) {
      this.#space();
      const c = this.text[this.#at];
      if (c === '}') {
        this.#at++;
        break;
      }
      if (c === ',') {
        this.#at++;
        continue;
      }
      const key = c === '"' ? this.#string() : undefined;
      this.#space();
      if (key === undefined || this.#cut || this.text[this.#at] !== ':') {
        this.#cutOff();
        break;
      }
      this.#at++;
      const value = this.value();
      // Defined, not assigned: a key "__proto__" is a member, as JSON.parse makes it.
      if (value !== undefined) Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
    }
    return out;
  }

  #array(): unknown[] {
    this.#at++;
    const items: unknown[] = [];
    let more = 0;
    while (!this.#cut) {
      this.#space();
      const c = this.text[this.#at];
      if (c === undefined) break;
      if (c === ']') {
        this.#at++;
        return more > 0 ? [...items, `… (${more} more items)`] : items;
      }
      if (c === ',') {
        this.#at++;
        continue;
      }
      const item = this.value();
      if (item === undefined) break;
      if (items.length < ARRAY_ITEMS) items.push(item);
      else more++;
    }
    this.#cutOff();
    if (more > 0) return [...items, `… (${more} more items before the cut: the whole output is at output_url)`];
    // A string cut off in its middle carries the mark already.
    const last = items.at(-1);
    return typeof last === 'string' && last.endsWith(CUT) ? items : [...items, CUT];
  }

  #string(): string {
    const start = this.#at;
    let end = start + 1;
    while (end < this.text.length && this.text[end] !== '"') end += this.text[end] === '\\' ? 2 : 1;
    if (end < this.text.length) {
      this.#at = end + 1;
      const whole = JSON.parse(this.text.slice(start, this.#at)) as string;
      return shorten(whole) as string;
    }
    // Cut off inside the string: what was read, without an escape left unfinished.
    this.#cutOff();
    let read = this.text.slice(start + 1).replace(/\\u[0-9a-fA-F]{0,3}$/, '');
    if (/(?:^|[^\\])(?:\\\\)*\\$/.test(read)) read = read.slice(0, -1);
    let value: string;
    try {
      value = JSON.parse(`"${read}"`) as string;
    } catch {
      value = read;
    }
    return `${value.slice(0, STRING_CHARS)}${CUT}`;
  }

  #literal(): unknown {
    const found = /^(?:-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(this.text.slice(this.#at, this.#at + 400));
    // One that reaches the end of what was read may go on past it.
    if (!found || this.#at + found[0].length >= this.text.length) return this.#cutOff();
    this.#at += found[0].length;
    return JSON.parse(found[0]);
  }

  #space(): void {
    while (this.#at < this.text.length && ' \t\n\r'.includes(this.text[this.#at]!)) this.#at++;
  }

  #cutOff(): undefined {
    this.#cut = true;
    this.#at = this.text.length;
    return undefined;
  }
}
