/** Long texts in pieces for the NLP models that read a whole text in one synchronous call. */
import { paragraphsOf, windowsOf } from './tokenize.js';

/**
 * The longest run without a space a model is given. wink-nlp's tokenizer takes time that grows
 * faster than the square of a token's length: a URL-like run of 4.4 kB took it 0.5 s, a piece of
 * 20 kB about 70 s in one call, and 100 kB of `http://a.b/` six minutes. No word, URL or address
 * is this long.
 */
const MAX_RUN = 256;
const LONG_RUN = new RegExp(`\\S{${MAX_RUN + 1},}`, 'gu');
const RUN_PIECE = new RegExp(`\\S{1,${MAX_RUN}}`, 'gu');
/** Characters of a paragraph read at once. */
const PARAGRAPH_WINDOW = 64 * 1024;

/**
 * The text cut at paragraph breaks (or, inside a huge paragraph, at a space) into pieces of at
 * most `max` characters, each run without a space cut into runs of at most MAX_RUN characters.
 * The pieces are made one at a time, as they are read: a long text is not copied whole, and a
 * huge paragraph (a text without blank lines) is read a window at a time.
 */
export function* chunksOf(text: string, max: number): Generator<string> {
  let current = '';
  for (const whole of paragraphsOf(text)) {
    let paragraph = '';
    let cutBefore = false;
    // Runs without a space never cross a paragraph break, which is all whitespace, but may cross a
    // window's end (after a Chinese or Japanese sentence end, or in a run with no break at all):
    // they are cut in what is left of the paragraph with the window added.
    for (const window of windowsOf(whole, PARAGRAPH_WINDOW)) {
      // What follows a cut starts at its first non-space, even when that is in a later window.
      const joined = cutBefore && paragraph === '' ? window.trimStart() : paragraph + window;
      paragraph = joined.replace(LONG_RUN, (run) => run.match(RUN_PIECE)!.join(' '));
      while (paragraph.length > max) {
        const cut = paragraph.lastIndexOf(' ', max);
        const at = cut > 0 ? cut : max;
        if (current) yield current;
        current = '';
        yield paragraph.slice(0, at);
        paragraph = paragraph.slice(at).trimStart();
        cutBefore = true;
      }
    }
    if (current && current.length + paragraph.length + 2 > max) {
      yield current;
      current = '';
    }
    current = current ? `${current}\n\n${paragraph}` : paragraph;
  }
  if (current.trim()) yield current;
}
