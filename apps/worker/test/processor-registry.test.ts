import { loadConfig, workerEnvSchema } from '@conveyor/shared';
import { expect, test } from 'vitest';
import { checkProcessors, createProcessors } from '../src/processors/registry.js';
import { selectStages } from '../src/stage-selection.js';

const processors = createProcessors(loadConfig(workerEnvSchema, {}));

test('every stage of every declared pipeline has a processor, so a worker serving them all starts', () => {
  expect(() => checkProcessors(selectStages(undefined, {}), processors)).not.toThrow();
});

test('a declared stage without a processor stops the worker at start, naming it and where to register one (each of its jobs was taken and dead-lettered with NO_PROCESSOR)', () => {
  const pipeline = { name: 'scoring', input: 'json' as const, stages: ['score', 'rank'] };
  const stages = [
    { pipeline, stage: 'score', previous: '', next: 'rank' },
    { pipeline, stage: 'rank', previous: 'score', next: '' },
    ...selectStages('inference', {}),
  ];
  expect(() => checkProcessors(stages, processors)).toThrow(
    'no processor is registered for stages scoring:score, scoring:rank: register one per stage in apps/worker/src/processors/registry.ts (README, Documents and pipelines), or serve other stages (WORKER_STAGES)',
  );
});
