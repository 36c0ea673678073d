import { describe, expect, test } from 'vitest';
import { summarizeText } from '../src/text/summarize-text.js';
import { splitSentences, words } from '../src/text/tokenize.js';

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
