import { codePointBoundary } from './code-points.js';

/**
 * Scripts written without spaces between words: Chinese, Japanese, Thai, Lao, Khmer, Myanmar. The
 * word pattern takes a whole run of them for one word (a Japanese sentence up to its comma), so
 * the runs that hold them are cut into words by ICU's dictionary word breaker instead.
 */
export const UNSPACED_SCRIPT = /[\p{sc=Han}\p{sc=Hiragana}\p{sc=Katakana}\p{sc=Thai}\p{sc=Lao}\p{sc=Khmer}\p{sc=Myanmar}]/u;

/**
 * Characters given to the segmenter at once. Its time is about linear on short strings (20,000
 * characters in 78 ms) but not on long ones: 1.1 M characters at once did not finish in 30 s,
 * and the same text a run at a time took 820 ms.
 */
const SEGMENTED_PIECE = 1_000;

const segmenter = new Intl.Segmenter(undefined, { granularity: 'word' });

/**
 * The words of `run` (one match of the word pattern, holding a character of an UNSPACED_SCRIPT),
 * one at a time. A long run is read a piece at a time; the last word of a piece may go on in the
 * next, so it is segmented again with it.
 */
export function* segmentedWords(run: string): Generator<string> {
  for (let start = 0; start < run.length; ) {
    const end = start + SEGMENTED_PIECE >= run.length ? run.length : codePointBoundary(run, start + SEGMENTED_PIECE);
    let last: Intl.SegmentData | undefined;
    for (const segment of segmenter.segment(run.slice(start, end))) {
      if (last?.isWordLike) yield last.segment;
      last = segment;
    }
    const final = end === run.length || last!.index === 0;
    if (final && last!.isWordLike) yield last!.segment;
    start = final ? end : start + last!.index;
  }
}
