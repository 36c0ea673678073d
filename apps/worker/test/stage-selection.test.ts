import { expect, test } from 'vitest';
import { selectStages } from '../src/stage-selection.js';

test('a worker serves every stage of every queue unless WORKER_STAGES narrows it', () => {
  expect(selectStages(undefined, {}).map((s) => `${s.pipeline.name}:${s.stage}`)).toEqual([
    'inference:infer',
    'documents:extract',
    'documents:analyze',
    'documents:summarize',
    'documents:embed',
    'document-summary:extract',
    'document-summary:summarize',
  ]);
  expect(selectStages('documents:summarize, inference', {}).map((s) => [s.stage, s.previous, s.next])).toEqual([
    ['summarize', 'analyze', 'embed'],
    ['infer', '', ''],
  ]);
  expect(selectStages('document-summary', {}).map((s) => [s.stage, s.previous, s.next])).toEqual([
    ['extract', '', 'summarize'],
    ['summarize', 'extract', ''],
  ]);
});

test('an unknown queue or stage in WORKER_STAGES is refused with the names that exist', () => {
  expect(() => selectStages('videos', {})).toThrow('WORKER_STAGES: unknown queue "videos"; known queues: inference, documents, document-summary');
  expect(() => selectStages('documents:ocr', {})).toThrow('queue "documents" has no stage "ocr"; its stages: extract, analyze, summarize, embed');
});
