import { codePointBoundary } from './code-points.js';
import { EventLoopTurns } from './event-loop-turns.js';
import { segmentedWords, UNSPACED_SCRIPT } from './segment-words.js';

/**
 * Splitting text into paragraphs, sentences and words, in any language: Chinese, Japanese and the
 * other scripts written without spaces have their own sentence ends and words (segment-words.ts).
 * A document's text can be tens of megabytes: the iterators here yield one piece at a time, so a
 * stage that walks a long text holds a few pieces of it, not an array of every word (three
 * million short strings for 20 MB, ten times the text's own size).
 */

const paragraphBreak = /\n\s*\n/g;
/** Closing quotes and brackets, which stay with the sentence they end. */
const CLOSERS = `"'”’)\\]」』）】〕〉》〗〙〛］｝〞＂＇`;
/** Chinese and Japanese sentence ends: ideographic, fullwidth and halfwidth forms. */
const CJK_ENDS = '。．｡！？';
/**
 * Where one sentence ends and the next starts, its closers in group 1 or 2. After . ! ?, a space
 * and something that may start a sentence (a capital, a letter of a script without case, a
 * digit). After a Chinese or Japanese end, anything: those texts put no space between sentences.
 * But not a fullwidth point after a digit or a fullwidth Latin letter (３．５, a list's `1．概要`,
 * `Ｍｒ．Ｓｍｉｔｈ`), nor a quotation that goes on in its sentence (`「こんにちは。」と言った`).
 */
const sentenceEnd = new RegExp(
  `(?<=[.!?${CJK_ENDS}])([${CLOSERS}]*)\\s+(?=["'“‘(\\[]*[\\p{Lu}\\p{Lo}\\d])` +
    `|(?<=[${CJK_ENDS}])(?<![\\p{Nd}Ａ-Ｚａ-ｚ][．｡])([${CLOSERS}]*)(?!(?<=[${CLOSERS}])(?:と|って))\\s*(?=[^\\s${CJK_ENDS}${CLOSERS}])`,
  'gu',
);

// Titles and abbreviations that end with a point without ending the sentence ("Dr. Smith"),
// and single-letter initials ("J. R. R. Tolkien").
const abbreviation = /(?:^|[\s(])(?:mr|mrs|ms|dr|prof|sr|jr|st|mt|vs|etc|inc|corp|ltd|co|fig|gen|gov|sen|rep|rev|capt|col|lt|sgt|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)\.$/iu;
const initial = /(?:^|[\s(])\p{Lu}\.$/u;

// Combining marks inside a word: Thai, Hindi and decomposed accents ("e\u0301") write vowels and
// tones with them.
const word = /[\p{L}\p{N}][\p{L}\p{M}\p{N}]*(?:['’-][\p{L}\p{N}][\p{L}\p{M}\p{N}]*)*/gu;
const WORD_END = /[\p{L}\p{M}\p{N}]$/u;
/**
 * Where a window may end: after a space, tab or line end (not part of a word, and not skipped by
 * any case rule; some other whitespace, U+FEFF, is), or after a Chinese or Japanese sentence end
 * and its closers, the only breaks text without spaces has.
 */
const windowBreak = new RegExp(`[ \\t\\n\\r]|[${CJK_ENDS}][${CLOSERS}]*`, 'u');
/** Characters of text lower-cased and matched at once by wordsOf. */
const WORD_WINDOW = 64 * 1024;
/**
 * Characters of a paragraph cut into sentences at once. A longer run without a sentence end is
 * cut into "sentences" of one to three times this length.
 */
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
    // A window that ends at a space lost it when the sentences were trimmed; one that ends after
    // a Chinese or Japanese sentence end, or in a run without a break, had none to give back.
    let space = '';
    for (const window of windowsOf(paragraph, SENTENCE_WINDOW)) {
      const sentences = joinAbbreviations(cutSentences(`${rest}${space}${window}`.replace(/\s+/g, ' ').trim()));
      rest = sentences.pop() ?? '';
      space = /\s$/.test(window) ? ' ' : '';
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

/**
 * `text` in pieces of `size` to `2 × size` characters, each but the last ending just after the
 * first space, tab or line end (or Chinese or Japanese sentence end) past `size`. A piece with
 * none is cut at `size` anyway (between two characters, not inside a surrogate pair): a base64
 * run or a text in a script without spaces would otherwise be one window, megabytes long, that
 * every reader of windows copied and held whole.
 */
export function* windowsOf(text: string, size: number): Generator<string> {
  for (let start = 0; start < text.length; ) {
    let end = text.length;
    if (start + size < text.length) {
      const found = windowBreak.exec(text.slice(start + size, start + 2 * size));
      end = found ? start + size + found.index + found[0].length : codePointBoundary(text, start + size);
    }
    yield text.slice(start, end);
    start = end;
  }
}

/** Sentences in order, trimmed, with inner whitespace folded. */
export function splitSentences(text: string): string[] {
  return [...sentencesOf(text)];
}

/** `text`, whitespace folded, cut after each sentence end (see sentenceEnd). */
function cutSentences(text: string): string[] {
  const sentences: string[] = [];
  let start = 0;
  for (const found of text.matchAll(sentenceEnd)) {
    sentences.push(text.slice(start, found.index + (found[1] ?? found[2] ?? '').length));
    start = found.index + found[0].length;
  }
  sentences.push(text.slice(start));
  return sentences;
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

/**
 * Lower-cased words: runs of letters, marks and digits, with inner apostrophes and hyphens; in
 * scripts written without spaces, the dictionary words of such runs (see segment-words.ts).
 */
export function words(text: string): string[] {
  return [...wordsOf(text)];
}

/**
 * The words `words(text)` gives, one at a time: the text is lower-cased and matched a window at a
 * time, each window ending just after a space, tab or line end, or a Chinese or Japanese sentence
 * end. No word spans one, and lower-casing never looks across one (the one rule that looks at
 * neighbours, Greek final sigma, stops there). A run with no such break for a whole window is cut
 * (see windowsOf): the word it makes is given once, as far as the cut.
 *
 * Only runs in an UNSPACED_SCRIPT go to the segmenter, in windows that hold one: the rest of the
 * world's text is read by the pattern alone, as fast as before.
 */
export function* wordsOf(text: string): Generator<string> {
  let cutInWord = false;
  for (const window of windowsOf(text, WORD_WINDOW)) {
    const lowered = window.toLowerCase();
    const segmenting = UNSPACED_SCRIPT.test(lowered);
    for (const { 0: found, index } of lowered.matchAll(word)) {
      if (segmenting && UNSPACED_SCRIPT.test(found)) yield* segmentedWords(found);
      else if (!(cutInWord && index === 0)) yield found;
    }
    cutInWord = WORD_END.test(window);
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
