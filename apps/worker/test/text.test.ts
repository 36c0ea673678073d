import { describe, expect, test } from 'vitest';
import { summarizeText } from '../src/text/summarize-text.js';
import { countWords, splitSentences, words, wordsOf } from '../src/text/tokenize.js';

describe('text', () => {
  test('sentences split at end punctuation, keeping abbreviations with lower-case next words together', () => {
    expect(splitSentences('Redis Streams keep tasks. Workers ack them! Do they? yes, e.g. this one.\n\nNew paragraph')).toEqual([
      'Redis Streams keep tasks.',
      'Workers ack them!',
      'Do they? yes, e.g. this one.',
      'New paragraph',
    ]);
  });

  test('titles, abbreviations and initials do not end a sentence', () => {
    expect(splitSentences('Dr. Jane Smith met Mr. J. R. Tolkien at Acme Corp. on Monday. They talked. It went well, etc. Then lunch.')).toEqual([
      'Dr. Jane Smith met Mr. J. R. Tolkien at Acme Corp. on Monday.',
      'They talked.',
      'It went well, etc. Then lunch.',
    ]);
  });

  test('words are lower-cased runs of letters and digits, across scripts', () => {
    expect(words("Don't stop: GPU-4 runs 10× faster — naïve café")).toEqual(["don't", 'stop', 'gpu-4', 'runs', '10', 'faster', 'naïve', 'café']);
  });

  test('a long text gives its words one at a time, the same as all at once, across the windows it is read in', () => {
    // Runs of 70,000 characters put a window's end next to capitals, Greek final sigmas and a
    // zero-width no-break space (U+FEFF, which lower-casing skips when it looks for a word's end).
    const text = `ΟΔΟΣ ΣΟΦΟΣ ΑΣ\uFEFFΒ ${'x'.repeat(70_000)} İstanbul Don't GPU-4 naïve\n\nΣΟΦΟΣ. `.repeat(6);
    expect([...wordsOf(text)]).toEqual(words(text));
    expect(countWords(text)).toBe(words(text).length);
  });

  test('the summary of a long text picks its most central sentences, read a sentence at a time', () => {
    const unique = (n: number) => n.toString(26).replace(/./g, (digit) => String.fromCharCode(97 + parseInt(digit, 26)));
    const central = 'Redis streams keep queue tasks for workers.';
    const sentences = Array.from({ length: 2_000 }, (_, i) => (i % 500 === 7 ? central : `Q${unique(3 * i)} ${unique(3 * i + 1)} ${unique(3 * i + 2)}.`));
    const summary = summarizeText(sentences.join(' '), 3);
    expect(summary).toEqual([central, central, central]);
    expect(summarizeText([...sentences.slice(0, 10), 'Queue tasks wait.'].join(' '), 3)).toHaveLength(3);
    expect(summarizeText('Only one. And two.', 0)).toEqual([]);
  });

  test('the summary is made of the most central sentences, in their original order', () => {
    const text = [
      'Redis Streams make a reliable task queue for AI backends.',
      'The weather was pleasant on the day the team met.',
      'A task queue on Redis Streams survives worker crashes because pending tasks stay in the stream.',
      'Lunch was served at noon.',
      'Consumer groups spread the tasks of the queue across workers, and Redis Streams track what each worker holds.',
      'Everyone went home early.',
    ].join(' ');
    const summary = summarizeText(text, 3);
    expect(summary).toEqual([
      'Redis Streams make a reliable task queue for AI backends.',
      'A task queue on Redis Streams survives worker crashes because pending tasks stay in the stream.',
      'Consumer groups spread the tasks of the queue across workers, and Redis Streams track what each worker holds.',
    ]);
    expect(summarizeText('One sentence only.', 3)).toEqual(['One sentence only.']);
    expect(summarizeText('', 3)).toEqual([]);
  });
});
