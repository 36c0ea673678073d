import { describe, expect, test } from 'vitest';
import type { AnalyzeOutput } from '../../src/processors/analyze.js';
import { analyze } from '../../src/processors/analyze.js';
import { NonRetryableError } from '../../src/processors/non-retryable-error.js';
import { WINK_CHUNK_CHARACTERS } from '../../src/nlp/wink.js';
import { chunksOf } from '../../src/text/chunk-text.js';
import { documentPayload, stageHelpers } from './build-documents.js';
import { FRENCH_TEXT, GERMAN_TEXT, GLOWING_REVIEW, QUEUE_ARTICLE, SCATHING_REVIEW } from './texts.js';

const payload = documentPayload('doc.txt', 'text/plain', Buffer.from('x'));

function extractOutput(text: string) {
  return { detected_type: 'text/plain', claimed_type: 'text/plain', text_length: text.length, word_count: 0, text };
}

async function analyzed(text: string): Promise<AnalyzeOutput> {
  return (await analyze(payload, stageHelpers({ stage: 'analyze', input: extractOutput(text) }))) as AnalyzeOutput;
}

describe('analyze', () => {
  test('English text is detected as English, with a confidence', async () => {
    const { language } = await analyzed(QUEUE_ARTICLE);
    expect(language.code).toBe('en');
    expect(language.confidence).toBeGreaterThan(0.8);
    expect(language.confidence).toBeLessThanOrEqual(1);
  });

  test('French and German texts are detected as such, with no English-only sentiment or entities', async () => {
    const french = await analyzed(FRENCH_TEXT);
    expect(french.language.code).toBe('fr');
    expect(french.sentiment).toBeNull();
    expect(french.entities).toEqual([]);
    expect(french.keywords.map((keyword) => keyword.term)).toContain('tâches');
    expect((await analyzed(GERMAN_TEXT)).language.code).toBe('de');
  });

  test('keywords are the recurring content words, best first, without stopwords or abbreviations', async () => {
    const { keywords } = await analyzed(QUEUE_ARTICLE);
    const terms = keywords.map((keyword) => keyword.term);
    expect(keywords.length).toBeLessThanOrEqual(10);
    expect(terms.slice(0, 5)).toEqual(expect.arrayContaining(['task', 'queue', 'redis']));
    expect(keywords[0]!.score).toBe(1);
    expect(terms.some((term) => ['the', 'and', 'is', 'dr.', 'corp.'].includes(term))).toBe(false);
    expect(keywords.find((keyword) => keyword.term === 'task')!.count).toBe(5);
  });

  test('a word the document repeats but English uses everywhere ranks below rarer, topical ones', async () => {
    const text = 'The cluster needs time. Kubernetes schedules pods. Time passes. Kubernetes restarts the pods. It all takes time.';
    const terms = (await analyzed(text)).keywords.map((keyword) => keyword.term);
    expect(terms.indexOf('kubernetes')).toBeLessThan(terms.indexOf('time'));
    expect(terms.indexOf('pod')).toBeLessThan(terms.indexOf('time'));
  });

  test('entities include a person, an organization, a place and a date', async () => {
    const { entities } = await analyzed(QUEUE_ARTICLE);
    expect(entities).toEqual(
      expect.arrayContaining([
        { text: 'Jane Smith', type: 'PERSON', count: 1 },
        { text: 'Acme Corp.', type: 'ORGANIZATION', count: 1 },
        { text: 'London', type: 'PLACE', count: 1 },
        { text: '12 March 2024', type: 'DATE', count: 1 },
        { text: 'Redis Streams', type: 'PROPER_NOUN', count: 3 },
      ]),
    );
    // "Consumer groups…" opens a sentence: a common word, not a name.
    expect(entities.map((entity) => entity.text)).not.toContain('Consumer');
  });

  test('sentiment is positive for praise and negative for complaints, each within -1..1', async () => {
    const praise = (await analyzed(GLOWING_REVIEW)).sentiment!;
    const complaint = (await analyzed(SCATHING_REVIEW)).sentiment!;
    console.log(`sentiment: praise ${praise.score}, complaint ${complaint.score}`);
    expect(praise).toMatchObject({ label: 'positive' });
    expect(praise.score).toBeGreaterThan(0.2);
    expect(complaint).toMatchObject({ label: 'negative' });
    expect(complaint.score).toBeLessThan(-0.2);
    expect((await analyzed('The meeting is in room four.')).sentiment).toEqual({ score: 0, label: 'neutral' });
  });

  test('counts words and sentences, and passes the extract output forward without the text', async () => {
    const output = await analyzed(QUEUE_ARTICLE);
    expect(output).toMatchObject({ detected_type: 'text/plain', claimed_type: 'text/plain', sentence_count: 7 });
    expect(output.word_count).toBe(QUEUE_ARTICLE.split(/\s+/).length);
    expect(output).not.toHaveProperty('text');
  });

  test('a long document is analyzed in pieces, and the whole of it counts', async () => {
    const long = Array.from({ length: 400 }, () => QUEUE_ARTICLE).join('\n\n');
    const output = await analyzed(long);
    expect(output.keywords[0]).toMatchObject({ term: 'task', count: 2000 });
    expect(output.entities.find((entity) => entity.text === 'London')).toMatchObject({ count: 400 });
  });

  test('100 kB of URL-like characters without a space is analyzed in seconds, its runs cut for the model (it took six minutes)', async () => {
    const text = `See ${'http://a.b/'.repeat(10_000)} and https://example.com/docs.`;
    const pieces = [...chunksOf(text, WINK_CHUNK_CHARACTERS)];
    expect(pieces.every((piece) => !/\S{257,}/u.test(piece))).toBe(true);
    expect(pieces.join('').replace(/\s/g, '')).toBe(text.replace(/\s/g, ''));
    const started = performance.now();
    const output = await analyzed(text);
    expect(performance.now() - started).toBeLessThan(10_000);
    // The real URL after the run is still found.
    expect(output.entities).toContainEqual(expect.objectContaining({ text: expect.stringMatching(/^https:\/\/example\.com\/docs/), type: 'URL' }));
  });

  test('an aborted job stops between pieces', async () => {
    const controller = new AbortController();
    controller.abort(new Error('job cancelled'));
    const helpers = stageHelpers({ stage: 'analyze', input: extractOutput(QUEUE_ARTICLE), signal: controller.signal });
    await expect(analyze(payload, helpers)).rejects.toThrow('job cancelled');
  });

  test('input without text fails as INVALID_INPUT', async () => {
    await expect(analyze(payload, stageHelpers({ stage: 'analyze', input: { summary: 'x' } }))).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(analyze(payload, stageHelpers({ stage: 'analyze', input: undefined }))).rejects.toBeInstanceOf(NonRetryableError);
  });
});
