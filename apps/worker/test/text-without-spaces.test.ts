import type { InferencePayload } from '@conveyor/shared';
import { describe, expect, test } from 'vitest';
import { analyzeText } from '../src/nlp/analyze-text.js';
import { MAX_TERM_CHARACTERS } from '../src/nlp/keywords.js';
import { createInfer } from '../src/processors/infer.js';
import { builtinModels } from '../src/processors/models/builtin.js';
import { summarize } from '../src/processors/summarize.js';
import { clipText } from '../src/text/clip-text.js';
import { MAX_SENTENCE_CHARACTERS, summarizeText } from '../src/text/summarize-text.js';
import { countWords, sentencesOf, splitSentences, windowsOf, words, wordsOf } from '../src/text/tokenize.js';
import { documentPayload, stageHelpers } from './documents/build-documents.js';
import { longestTurnGap } from './event-loop-gap.js';

// Chinese and Japanese put no space after a sentence, and no text needs a space at all (a base64
// or hex dump saved as .txt): both were one sentence, one window and one word, as long as the text.

const PROMPT = '東京は日本の首都です。大阪は西日本の中心です。京都には古い寺がたくさんあります。北海道は寒いです。沖縄は暖かいです。';
const PROMPT_SENTENCES = ['東京は日本の首都です。', '大阪は西日本の中心です。', '京都には古い寺がたくさんあります。', '北海道は寒いです。', '沖縄は暖かいです。'];

/** One deterministic run of `chars` letters and digits, like a base64 dump without its + and /. */
function oneWord(chars: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let state = 11;
  const characters: string[] = [];
  for (let i = 0; i < chars; i++) {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    characters.push(alphabet[state % alphabet.length]!);
  }
  return characters.join('');
}

/** `count` of these sentences in turn, without a space or a line end. */
function japanese(sentences: string[], count: number): { text: string; sentences: string[] } {
  const taken = Array.from({ length: count }, (_, i) => sentences[i % sentences.length]!);
  return { text: taken.join(''), sentences: taken };
}

const isWellFormed = (text: string) => {
  try {
    encodeURIComponent(text);
    return true;
  } catch {
    return false;
  }
};

describe('sentences of Chinese and Japanese', () => {
  test('end at 。！？ (and fullwidth ．, halfwidth ｡) without a space after them', () => {
    expect(splitSentences(PROMPT)).toEqual(PROMPT_SENTENCES);
    expect(splitSentences('我们今天去北京。天气很好！你去吗？')).toEqual(['我们今天去北京。', '天气很好！', '你去吗？']);
    expect(splitSentences('これは例です．次の文です｡最後の文です。')).toEqual(['これは例です．', '次の文です｡', '最後の文です。']);
  });

  test('keep their closing brackets and quotes, and doubled ends, and a number with a fullwidth point is not cut', () => {
    expect(splitSentences('「東京は大きい。」大阪も大きい！本当ですか？（はい。）『そうです！？』次へ。')).toEqual([
      '「東京は大きい。」',
      '大阪も大きい！',
      '本当ですか？',
      '（はい。）',
      '『そうです！？』',
      '次へ。',
    ]);
    expect(splitSentences('距離は３．５キロです。歩けます。')).toEqual(['距離は３．５キロです。', '歩けます。']);
    expect(splitSentences('東京です。 Tokyo is big. 大阪です。')).toEqual(['東京です。', 'Tokyo is big.', '大阪です。']);
  });

  test('in English too, a closing quote or bracket stays with the sentence it ends', () => {
    expect(splitSentences('He said "Stop." Then he left. (It was late.) Nobody knew why?\' She asked.')).toEqual([
      'He said "Stop."',
      'Then he left.',
      '(It was late.)',
      "Nobody knew why?'",
      'She asked.',
    ]);
  });

  test('a long text is cut into the same sentences wherever its windows end, with nothing added where they join', () => {
    const { text, sentences } = japanese(['東京は日本の首都です。', '「大阪は西日本の中心です。」', '京都には古い寺がたくさんあります！'], 30_000);
    expect(text.length).toBeGreaterThan(300_000);
    expect(splitSentences(text)).toEqual(sentences);
  });
});

describe('text with no whitespace and no sentence end', () => {
  test('is read in windows of at most twice their size, cut between characters, losing nothing', () => {
    const run = oneWord(1_000_000);
    const windows = [...windowsOf(run, 1_000)];
    expect(windows.every((window) => window.length <= 2_000)).toBe(true);
    expect(windows.join('')).toBe(run);
    // An emoji is two UTF-16 units: no window starts or ends inside one.
    const emoji = `x${'😀'.repeat(50_000)}`;
    const pieces = [...windowsOf(emoji, 1_001)];
    expect(pieces.length).toBeGreaterThan(40);
    expect(pieces.every(isWellFormed)).toBe(true);
    expect(pieces.join('')).toBe(emoji);
  });

  test('a Japanese text is read in windows that end after a sentence', () => {
    const { text } = japanese(['東京は日本の首都です。', '大阪は西日本の中心です！」'], 20_000);
    const windows = [...windowsOf(text, 1_000)];
    expect(windows.every((window) => window.length <= 2_000 && /[。！」]$/.test(window))).toBe(true);
    expect(windows.join('')).toBe(text);
  });

  test('gives sentences of bounded length that join into the text again, without a space added', () => {
    const run = oneWord(1_000_000);
    const sentences = [...sentencesOf(run)];
    expect(sentences.length).toBeGreaterThan(3);
    expect(Math.max(...sentences.map((sentence) => sentence.length))).toBeLessThanOrEqual(3 * 64 * 1024);
    expect(sentences.join('')).toBe(run);
  });

  test('counts as one word, given once as far as its first window', async () => {
    const run = oneWord(1_000_000);
    expect(await countWords(run)).toBe(1);
    expect(await countWords(`start ${run} end`)).toBe(3);
    expect(Math.max(...[...wordsOf(run)].map((word) => word.length))).toBeLessThanOrEqual(2 * 64 * 1024);
  });
});

describe('words of scripts written without spaces', () => {
  test('are their dictionary words, not whole runs', () => {
    expect(words('東京は日本の首都です')).toEqual(['東京', 'は', '日本', 'の', '首都', 'です']);
    expect(words('我们都是中国人')).toEqual(['我们', '都是', '中国人']);
    expect(words('ภาษาไทยเป็นภาษาที่สวยงาม')).toEqual(['ภาษา', 'ไทย', 'เป็น', 'ภาษา', 'ที่', 'สวยงาม']);
    // Marks are part of a word: Hindi vowels, a decomposed accent.
    expect(words('हिन्दी भाषा cafe\u0301')).toEqual(['हिन्दी', 'भाषा', 'cafe\u0301']);
  });

  test('a long run without punctuation is segmented a piece at a time, as fast as its length, into the words of the whole', () => {
    const run = '東京は日本の首都です京都には古い寺がたくさんあります'.repeat(20_000);
    const started = performance.now();
    const found = [...wordsOf(run)];
    const elapsedMs = performance.now() - started;
    expect(found.length).toBeGreaterThan(200_000);
    expect(found.every((word) => word.length < 10)).toBe(true);
    expect(found.join('')).toBe(run);
    // A whole run of 500,000 characters given to the segmenter at once did not finish in 30 s.
    expect(elapsedMs).toBeLessThan(15_000);
    console.log(`segmented ${run.length} characters without punctuation in ${elapsedMs.toFixed(0)} ms`);
  });

  test('English words are read as before, by the pattern alone', () => {
    expect(words("Don't stop: GPU-4 runs 10× faster — naïve café")).toEqual(["don't", 'stop', 'gpu-4', 'runs', '10', 'faster', 'naïve', 'café']);
  });
});

describe('summaries of text without spaces', () => {
  test('the summarize model gives params.sentences sentences of a Japanese prompt', async () => {
    const request: InferencePayload = { model: 'summarize', prompt: PROMPT, params: { sentences: 2 } };
    const output = (await createInfer(builtinModels)(request, stageHelpers({ stage: 'infer' }))) as { sentences: string[]; summary: string };
    expect(output.sentences).toHaveLength(2);
    for (const sentence of output.sentences) expect(PROMPT_SENTENCES).toContain(sentence);
  });

  test('the document summary of a Japanese text is three of its sentences', async () => {
    const { text } = japanese(PROMPT_SENTENCES, 40);
    const payload = documentPayload('nihon.txt', 'text/plain', Buffer.from(text));
    const output = (await summarize(payload, stageHelpers({ stage: 'summarize', input: { text } }))) as { sentences: string[] };
    expect(output.sentences).toHaveLength(3);
    for (const sentence of output.sentences) expect(PROMPT_SENTENCES).toContain(sentence);
  });

  test('a 2 MB one-line base64-like text gives a summary of three sentences of at most 1,000 characters each', async () => {
    const text = Buffer.from(oneWord(1_600_000)).toString('base64');
    expect(text.length).toBeGreaterThan(2_000_000);
    const sentences = await summarizeText(text, 3);
    expect(sentences).toHaveLength(3);
    for (const sentence of sentences) {
      expect(sentence.length).toBeLessThanOrEqual(MAX_SENTENCE_CHARACTERS);
      expect(sentence.endsWith('…')).toBe(true);
      expect(text).toContain(sentence.slice(0, -1));
    }
    expect(sentences.join(' ').length).toBeLessThanOrEqual(3 * 1_001);
  });

  test('a long sentence is cut at its last space before the limit, a run without one at the limit, never inside a surrogate pair', () => {
    const sentence = Array.from({ length: 400 }, (_, i) => `word${i}`).join(' ');
    const cut = clipText(sentence, 1_000);
    expect(cut.length).toBeLessThanOrEqual(1_000);
    expect(cut).toMatch(/ word\d+…$/);
    expect(sentence.startsWith(`${cut.slice(0, -1)} `)).toBe(true);
    expect(clipText('x'.repeat(5_000), 1_000)).toBe(`${'x'.repeat(999)}…`);
    const emoji = clipText(`x${'😀'.repeat(1_000)}`, 1_000);
    expect(emoji.length).toBeLessThanOrEqual(1_000);
    expect(isWellFormed(emoji)).toBe(true);
    expect(clipText('Short enough.', 1_000)).toBe('Short enough.');
  });

  test('a run without spaces is cut before a character as a reader sees it, not inside: a letter and its accent, an emoji joined by U+200D or with a skin tone', () => {
    // e + U+0301 (é written as two code points): the limit of 1,000 falls between them.
    const accents = clipText('e\u0301'.repeat(1_000), 1_000);
    expect(accents).toBe(`${'e\u0301'.repeat(499)}…`);
    // A family (man, ZWJ, woman, ZWJ, girl: 8 UTF-16 units), and a waving hand with a skin tone (4).
    const family = '\u{1F468}\u200D\u{1F469}\u200D\u{1F467}';
    const families = clipText(family.repeat(200), 1_000);
    expect(families).toBe(`${family.repeat(124)}…`);
    const wave = '\u{1F44B}\u{1F3FD}';
    expect(clipText(`x${wave.repeat(300)}`, 1_000)).toBe(`x${wave.repeat(249)}…`);
    for (const cut of [accents, families]) expect(isWellFormed(cut)).toBe(true);
  });
});

describe('keywords and entities', () => {
  test(`no keyword is longer than ${MAX_TERM_CHARACTERS} characters, in English or another language, and no entity longer than 256`, async () => {
    const run = oneWord(200_000);
    const token = oneWord(60).toLowerCase();
    const english = `The server logged this token often. ${`The token ${token} was logged by the server. `.repeat(30)}`;
    const names = Array.from({ length: 400 }, (_, i) => `Name${String.fromCharCode(65 + (i % 26))}${i}`).join(' ');
    const heading = `The report was written by ${names} and it was long. `.repeat(3);
    for (const text of [run, `${run} ${run.slice(0, 100)} ${run.slice(0, 100)}`, english, heading]) {
      const { keywords, entities } = await analyzeText(text);
      expect(keywords.every(({ term }) => term.length <= MAX_TERM_CHARACTERS)).toBe(true);
      expect(entities.every(({ text: entity }) => entity.length <= 256)).toBe(true);
    }
  });

  test('a Japanese text has its frequent words as keywords, not runs or particles', async () => {
    const { text } = japanese([...PROMPT_SENTENCES, '東京の人口はとても多いです。', '東京タワーは東京にあります。'], 70);
    const { language, keywords, word_count, sentence_count } = await analyzeText(text);
    expect(language.code).toBe('ja');
    expect(sentence_count).toBe(70);
    expect(word_count).toBeGreaterThan(300);
    const terms = keywords.map(({ term }) => term);
    expect(terms[0]).toBe('東京');
    expect(terms).toEqual(expect.arrayContaining(['大阪', '京都', '北海道']));
    expect(terms.every((term) => term.length <= 5 && !/^[\p{sc=Hiragana}]+$/u.test(term))).toBe(true);
  });
});

test('a long Japanese text with no sentence end gives the event loop its turns while it is summarized, counted and analyzed (summarizing 20 MB held it for 11.6 s)', async () => {
  // 1.4 M characters: a handful of "sentences" of 64K to 192K characters, each cut into words by the segmenter.
  const text = 'あいうえお東京都大阪府京都市'.repeat(100_000);
  await analyzeText('東京は日本の首都です。');
  const works: Array<() => Promise<unknown>> = [() => summarizeText(text, 3), () => countWords(text), () => analyzeText(text)];
  for (const work of works) {
    const { gapMs, outcome } = await longestTurnGap(work);
    expect(outcome).toMatchObject({ status: 'fulfilled' });
    expect(gapMs).toBeLessThan(400);
  }
}, 120_000);

test('a quotation that goes on in its sentence, a list number and a fullwidth abbreviation do not end a Japanese sentence', () => {
  expect(splitSentences('彼は「こんにちは。」と言った。次の文です。')).toEqual(['彼は「こんにちは。」と言った。', '次の文です。']);
  expect(splitSentences('「はい。」って言った。')).toEqual(['「はい。」って言った。']);
  expect(splitSentences('1．概要を書く。2．詳細を書く。')).toEqual(['1．概要を書く。', '2．詳細を書く。']);
  expect(splitSentences('Ｍｒ．Ｓｍｉｔｈは来た。')).toEqual(['Ｍｒ．Ｓｍｉｔｈは来た。']);
  // A quotation that ends its sentence still does.
  expect(splitSentences('「こんにちは。」彼は笑った。')).toEqual(['「こんにちは。」', '彼は笑った。']);
});
