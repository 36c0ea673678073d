import { describe, expect, test } from 'vitest';
import { analyzeText } from '../src/nlp/analyze-text.js';
import { embedText } from '../src/nlp/embed-text.js';
import { WINK_CHUNK_CHARACTERS } from '../src/nlp/wink.js';
import { chunksOf } from '../src/text/chunk-text.js';
import { summarizeText } from '../src/text/summarize-text.js';
import { countWords, splitSentences, words, wordsOf } from '../src/text/tokenize.js';
import { longestTurnGap } from './event-loop-gap.js';

/** A paragraph of about `characters` characters (no blank line): these sentences, in turn, joined by a space or a line end. */
function longParagraph(sentences: string[], characters: number): { text: string; sentences: string[] } {
  const taken: string[] = [];
  let length = 0;
  for (let i = 0; length < characters; i++) {
    const sentence = sentences[i % sentences.length]!.replace('#', String(i));
    taken.push(sentence);
    length += sentence.length + 1;
  }
  return { text: taken.map((sentence, i) => (i % 7 === 6 ? `${sentence}\n` : `${sentence} `)).join('').trimEnd(), sentences: taken };
}

/** How long `work` went on after `signal` was aborted, 50 ms in; it must reject. */
async function stopAfterAbort(work: (signal: AbortSignal) => Promise<unknown>): Promise<number> {
  const controller = new AbortController();
  let abortedAt = 0;
  setTimeout(() => {
    abortedAt = performance.now();
    controller.abort(new Error('cancelled'));
  }, 50);
  await expect(work(controller.signal)).rejects.toThrow('cancelled');
  return performance.now() - abortedAt;
}

const VARIED_SENTENCES = [
  'Dr. Jane Smith met Mr. J. R. Tolkien at Acme Corp. on Monday.',
  'Sentence # ends with a question?',
  'It went well, etc. and then the team had lunch at noon!',
  '"Quoted words," she said, "still count" in sentence # (as do brackets).',
  'Item # costs 3.50 dollars in the U.S. market today.',
  'The committee reviewed the quarterly figures and found the costs within the planned budget.',
];

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

  test('a paragraph far longer than the window it is cut in gives the same sentences as a short one, wherever the windows end', () => {
    // Each text puts the windows' ends elsewhere in the sentences: inside "Dr. Jane", between "J."
    // and "R.", after a question mark, in the middle of a word.
    for (let shift = 0; shift < 40; shift++) {
      const { text, sentences } = longParagraph([`${'X'.repeat(shift + 1)} starts here.`, ...VARIED_SENTENCES], 200_000);
      expect(splitSentences(text)).toEqual(sentences);
    }
    // A run longer than the window without a sentence end is cut there, and loses nothing.
    const run = Array.from({ length: 20_000 }, (_, i) => `word${i}`).join(' ');
    const pieces = splitSentences(`${run}. Next sentence.`);
    expect(pieces.length).toBeGreaterThan(2);
    expect(pieces.join(' ')).toBe(`${run}. Next sentence.`);
  });

  test('a long text without a blank line is cut for the models a window at a time: every piece within the limit, at a space, nothing lost or doubled', () => {
    for (let shift = 0; shift < 10; shift++) {
      // Runs of up to 334 characters: those over 256 are cut for the models too.
      const { text } = longParagraph([`${'X'.repeat(shift * 37 + 1)} starts here.`, ...VARIED_SENTENCES], 300_000);
      const pieces = [...chunksOf(text, WINK_CHUNK_CHARACTERS)];
      expect(pieces.every((piece) => piece.length <= WINK_CHUNK_CHARACTERS && piece.trim() === piece)).toBe(true);
      expect(pieces.join('').replace(/\s/g, '')).toBe(text.replace(/\s/g, ''));
    }
  });

  test('summarizing, counting, embedding and analyzing a long one-paragraph text give the event loop its turns, and stop when aborted', async () => {
    // 6 MB without a blank line: the summary cut it into sentences at once, and held the event
    // loop for all its seconds of work.
    const { text } = longParagraph(VARIED_SENTENCES, 6 * 1024 * 1024);
    await embedText('warm up the word vectors');
    await analyzeText('Warm up the models in London.');
    const works: Array<() => Promise<unknown>> = [() => summarizeText(text, 3), () => countWords(text), () => embedText(text), () => analyzeText(text)];
    for (const work of works) {
      const { gapMs, outcome } = await longestTurnGap(work);
      expect(outcome).toMatchObject({ status: 'fulfilled', value: expect.anything() });
      expect(gapMs).toBeLessThan(400);
    }
    expect(await stopAfterAbort((signal) => summarizeText(text, 3, signal))).toBeLessThan(300);
    expect(await stopAfterAbort((signal) => embedText(text, signal))).toBeLessThan(300);
  });

  test('words are lower-cased runs of letters and digits, across scripts', () => {
    expect(words("Don't stop: GPU-4 runs 10× faster — naïve café")).toEqual(["don't", 'stop', 'gpu-4', 'runs', '10', 'faster', 'naïve', 'café']);
  });

  test('a long text gives its words one at a time, the same as all at once, across the windows it is read in', async () => {
    // Runs of 70,000 characters put a window's end next to capitals, Greek final sigmas and a
    // zero-width no-break space (U+FEFF, which lower-casing skips when it looks for a word's end).
    const text = `ΟΔΟΣ ΣΟΦΟΣ ΑΣ\uFEFFΒ ${'x'.repeat(70_000)} İstanbul Don't GPU-4 naïve\n\nΣΟΦΟΣ. `.repeat(6);
    expect([...wordsOf(text)]).toEqual(words(text));
    expect(await countWords(text)).toBe(words(text).length);
  });

  test('the summary of a long text picks its most central sentences, read a sentence at a time', async () => {
    const unique = (n: number) => n.toString(26).replace(/./g, (digit) => String.fromCharCode(97 + parseInt(digit, 26)));
    const central = 'Redis streams keep queue tasks for workers.';
    const sentences = Array.from({ length: 2_000 }, (_, i) => (i % 500 === 7 ? central : `Q${unique(3 * i)} ${unique(3 * i + 1)} ${unique(3 * i + 2)}.`));
    const summary = await summarizeText(sentences.join(' '), 3);
    expect(summary).toEqual([central, central, central]);
    expect(await summarizeText([...sentences.slice(0, 10), 'Queue tasks wait.'].join(' '), 3)).toHaveLength(3);
    expect(await summarizeText('Only one. And two.', 0)).toEqual([]);
  });

  test('the summary is made of the most central sentences, in their original order', async () => {
    const text = [
      'Redis Streams make a reliable task queue for AI backends.',
      'The weather was pleasant on the day the team met.',
      'A task queue on Redis Streams survives worker crashes because pending tasks stay in the stream.',
      'Lunch was served at noon.',
      'Consumer groups spread the tasks of the queue across workers, and Redis Streams track what each worker holds.',
      'Everyone went home early.',
    ].join(' ');
    const summary = await summarizeText(text, 3);
    expect(summary).toEqual([
      'Redis Streams make a reliable task queue for AI backends.',
      'A task queue on Redis Streams survives worker crashes because pending tasks stay in the stream.',
      'Consumer groups spread the tasks of the queue across workers, and Redis Streams track what each worker holds.',
    ]);
    expect(await summarizeText('One sentence only.', 3)).toEqual(['One sentence only.']);
    expect(await summarizeText('', 3)).toEqual([]);
  });
});
