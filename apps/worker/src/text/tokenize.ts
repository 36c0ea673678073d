import { EventLoopTurns } from './event-loop-turns.js';

/**
 * Splitting text into paragraphs, sentences and words, for any language written with spaces.
 * A document's text can be tens of megabytes: the iterators here yield one piece at a time, so a
 * stage that walks a long text holds a few pieces of it, not an array of every word (three
 * million short strings for 20 MB, ten times the text's own size).
 */

const paragraphBreak = /\n\s*\n/g;
const sentenceEnd = /(?<=[.!?。！？])["'”’)\]]*\s+(?=["'“‘(\[]*[\p{Lu}\p{Lo}\d])/u;

// Titles and abbreviations that end with a point without ending the sentence ("Dr. Smith"),
// and single-letter initials ("J. R. R. Tolkien").
const abbreviation = /(?:^|[\s(])(?:mr|mrs|ms|dr|prof|sr|jr|st|mt|vs|etc|inc|corp|ltd|co|fig|gen|gov|sen|rep|rev|capt|col|lt|sgt|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)\.$/iu;
const initial = /(?:^|[\s(])\p{Lu}\.$/u;

const word = /[\p{L}\p{N}]+(?:['’-][\p{L}\p{N}]+)*/gu;
// Spaces, tabs and line ends: not part of a word, and not skipped by any case rule (some other
// whitespace, U+FEFF, is).
const wordBreak = /[ \t\n\r]/g;
/** Characters of text lower-cased and matched at once by wordsOf. */
const WORD_WINDOW = 64 * 1024;
/** Characters of a paragraph cut into sentences at once; also the longest sentence sentencesOf gives whole. */
const SENTENCE_WINDOW = 64 * 1024;

/** The paragraphs `text.split(/\n\s*\n/)` gives, one at a time. */
export function* paragraphsOf(text: string): Generator<string> {
  const breaks = new RegExp(paragraphBreak);
  let start = 0;
  for (let found = breaks.exec(text); found; found = breaks.exec(text)) {
    yield text.slice(start, found.index);
    start = found.index + found[0].length;
  }
  yield text.slice(start);
}

/**
 * Sentences in order, trimmed, with inner whitespace folded, one at a time. A paragraph is cut a
 * window at a time (see SENTENCE_WINDOW): a text without blank lines is one paragraph, and cutting
 * 22 MB of it at once held the event loop for 2.3 s.
 */
export function* sentencesOf(text: string): Generator<string> {
  for (const paragraph of paragraphsOf(text)) {
    // The last sentence of a window may go on in the next: it is cut again with it. No sentence
    // before it needs joining to it (see joinAbbreviations: a sentence ending in "Dr." has taken
    // in the one after it), so every other sentence is complete.
    let rest = '';
    for (const window of windowsOf(paragraph, SENTENCE_WINDOW)) {
      const sentences = joinAbbreviations(`${rest} ${window}`.replace(/\s+/g, ' ').trim().split(sentenceEnd));
      rest = sentences.pop() ?? '';
      for (const piece of sentences) {
        const sentence = piece.trim();
        if (sentence.length > 0) yield sentence;
      }
      // A run this long without a sentence end is cut here rather than read again with each window.
      if (rest.length > SENTENCE_WINDOW) {
        yield rest.trim();
        rest = '';
      }
    }
    const last = rest.trim();
    if (last.length > 0) yield last;
  }
}

/** `text` in pieces of about `size` characters, each but the last ending just after a space, tab or line end. */
export function* windowsOf(text: string, size: number): Generator<string> {
  const spaces = new RegExp(wordBreak);
  for (let start = 0; start < text.length; ) {
    spaces.lastIndex = start + size;
    const space = start + size < text.length ? spaces.exec(text) : null;
    const end = space ? space.index + 1 : text.length;
    yield text.slice(start, end);
    start = end;
  }
}

/** Sentences in order, trimmed, with inner whitespace folded. */
export function splitSentences(text: string): string[] {
  return [...sentencesOf(text)];
}

function joinAbbreviations(pieces: string[]): string[] {
  const sentences: string[] = [];
  for (const piece of pieces) {
    const previous = sentences.at(-1);
    if (previous !== undefined && (abbreviation.test(previous) || initial.test(previous))) sentences[sentences.length - 1] = `${previous} ${piece}`;
    else sentences.push(piece);
  }
  return sentences;
}

/** Lower-cased words: runs of letters and digits, with inner apostrophes and hyphens. */
export function words(text: string): string[] {
  return text.toLowerCase().match(word) ?? [];
}

/**
 * The words `words(text)` gives, one at a time: the text is lower-cased and matched a window at a
 * time, each window ending just after a space, tab or line end. No word spans one, and lower-casing
 * never looks across one (the one rule that looks at neighbours, Greek final sigma, stops there),
 * so the words are the same.
 */
export function* wordsOf(text: string): Generator<string> {
  for (const window of windowsOf(text, WORD_WINDOW)) {
    for (const [found] of window.toLowerCase().matchAll(word)) yield found;
  }
}

/** How many words `text` has: `words(text).length`, without the array, giving the event loop its turns. */
export function countWords(text: string, signal?: AbortSignal): Promise<number> {
  return countOf(wordsOf(text), signal);
}

/** How many sentences `text` has, as sentencesOf cuts them, giving the event loop its turns. */
export function countSentences(text: string, signal?: AbortSignal): Promise<number> {
  return countOf(sentencesOf(text), signal);
}

async function countOf(pieces: Iterable<string>, signal: AbortSignal | undefined): Promise<number> {
  const turns = new EventLoopTurns(signal);
  let count = 0;
  for (const _ of pieces) {
    count++;
    if (turns.due()) await turns.take();
  }
  return count;
}
