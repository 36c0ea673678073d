import { expect, test } from 'vitest';
import { partitionsBeyondCount, selectStages } from '../src/stage-selection.js';

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
  // A list of nothing served every stage.
  for (const nothing of [',', ' , ']) expect(() => selectStages(nothing, {})).toThrow(`WORKER_STAGES: "${nothing}" names no stage; name them`);
  expect(() => selectStages('documents:ocr', {})).toThrow('queue "documents" has no stage "ocr"; its stages: extract, analyze, summarize, embed');
  // A third part served the first two alone: documents:extract:analyze served extract, inference:infer:high every lane.
  expect(() => selectStages('documents:extract:analyze', {})).toThrow('WORKER_STAGES: "documents:extract:analyze" has 3 parts; name a queue or a queue and one of its stages (documents:extract), and list several with commas');
  expect(() => selectStages('inference,inference:infer:high', {})).toThrow('"inference:infer:high" has 3 parts');
  // The example given is one that is taken (it suggested "inference:", refused in turn).
  expect(() => selectStages('inference::infer', {})).toThrow('"inference::infer" has 3 parts; name a queue or a queue and one of its stages (inference:infer)');
});

test("a partitioned queue is served in its own streams and every partition; one partition can be named alone", () => {
  const names = (setting: string | undefined) => selectStages(setting, { inference: 3 }).map((s) => `${s.pipeline.name}:${s.stage}`);
  expect(names('inference')).toEqual(['inference:infer', 'inference.0:infer', 'inference.1:infer', 'inference.2:infer']);
  expect(names('inference.1')).toEqual(['inference.1:infer']);
  expect(names(undefined)).toContain('inference.2:infer');
  expect(selectStages('inference.2', { inference: 3 })[0]!.pipeline.partition).toEqual({ queue: 'inference', index: 2 });
  // A partition past the count is served when named, to drain it after QUEUE_PARTITIONS was lowered; it is reported.
  expect(names('inference.3')).toEqual(['inference.3:infer']);
  expect(partitionsBeyondCount(selectStages('inference, inference.3, documents.0:extract', { inference: 3 }), { inference: 3 })).toEqual(['inference.3', 'documents.0']);
  expect(partitionsBeyondCount(selectStages(undefined, { inference: 3 }), { inference: 3 })).toEqual([]);
  expect(() => selectStages('inference.32', {})).toThrow('WORKER_STAGES: unknown queue "inference.32"');
});
