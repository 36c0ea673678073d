import { describe, expect, test } from 'vitest';
import { summarize } from '../../src/processors/summarize.js';
import { documentPayload, stageHelpers } from './build-documents.js';
import { QUEUE_ARTICLE } from './texts.js';

const payload = documentPayload('doc.txt', 'text/plain', Buffer.from('x'));
const folded = QUEUE_ARTICLE.replace(/\s+/g, ' ');

interface SummarizeOutput {
  summary: string;
  sentences: string[];
  text: string;
  [field: string]: unknown;
}

async function summarized(input: unknown): Promise<SummarizeOutput> {
  return (await summarize(payload, stageHelpers({ stage: 'summarize', input }))) as SummarizeOutput;
}

describe('summarize', () => {
  test('the summary is three sentences of the document, in document order, about its main subject', async () => {
    const { summary, sentences } = await summarized({ text: QUEUE_ARTICLE });
    expect(sentences).toHaveLength(3);
    for (const sentence of sentences) expect(folded).toContain(sentence);
    const positions = sentences.map((sentence) => folded.indexOf(sentence));
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
    expect(summary).toBe(sentences.join(' '));
    expect(summary).not.toMatch(/weather|Lunch/);
  });

  test("after extract, it keeps extract's fields but not the text", async () => {
    const { text, ...fields } = { detected_type: 'text/plain', claimed_type: 'text/plain', text_length: QUEUE_ARTICLE.length, word_count: 80, text: QUEUE_ARTICLE };
    const output = await summarized({ ...fields, text });
    expect(output).toMatchObject(fields);
    expect(output).not.toHaveProperty('text');
  });

  test("after analyze, it reads the text from extract's output and carries the analysis forward", async () => {
    const analysis = { language: { code: 'en', confidence: 0.95, reliable: true }, keywords: [{ term: 'task', count: 5, score: 1 }], entities: [], sentiment: { score: 0.3, label: 'positive' } };
    const output = (await summarize(payload, stageHelpers({ stage: 'summarize', input: { detected_type: 'text/plain', ...analysis }, outputs: { extract: { text: QUEUE_ARTICLE } } }))) as SummarizeOutput;
    expect(output).toMatchObject(analysis);
    expect(output.sentences).toHaveLength(3);
    for (const sentence of output.sentences) expect(folded).toContain(sentence);
  });

  test('input without text fails as INVALID_INPUT', async () => {
    await expect(summarized({ words: 3 })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });
});
