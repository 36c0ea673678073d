import { EMBEDDING_PASSED_PARAMS, readEmbeddingInput } from '@conveyor/shared';
import { z } from 'zod';
import { NonRetryableError } from '../../non-retryable-error.js';
import type { Model } from '../model.js';
import { describeTarget, postToEndpoint, type Endpoint } from './endpoint.js';
import { pickParams } from './request-params.js';

const embeddingList = z.object({
  data: z.array(z.object({ embedding: z.array(z.number()).min(1), index: z.number().int().nonnegative().optional() })).min(1),
  usage: z.record(z.string(), z.unknown()).nullable().optional(),
});

/**
 * An embedding model at the endpoint's /embeddings. It embeds `params.input` (a string or an
 * array of strings) or else the prompt: one vector for a string, one per item for an array.
 */
export function createEmbeddingModel(endpoint: Endpoint): Model {
  return async (request, helpers) => {
    const texts = readEmbeddingInput(request);
    const answer = await postToEndpoint(
      endpoint,
      { path: '/embeddings', body: { model: request.model, input: texts, ...pickParams(request.params ?? {}, EMBEDDING_PASSED_PARAMS) }, answer: embeddingList, answerName: 'an embedding list' },
      helpers,
    );
    const expected = Array.isArray(texts) ? texts.length : 1;
    const bad = (what: string) => new NonRetryableError(`${describeTarget(endpoint, '/embeddings')} answered ${what}`, 'MODEL_BAD_RESPONSE');
    if (answer.data.length !== expected) throw bad(`${answer.data.length} embeddings for ${expected} inputs`);
    // The endpoint may answer out of order; each item says which input it embeds, each input once.
    const byInput: (number[] | undefined)[] = new Array(expected);
    answer.data.forEach((item, position) => {
      const index = item.index ?? position;
      if (index >= expected) throw bad(`an embedding for input ${index} of ${expected} inputs (indexes count from 0)`);
      if (byInput[index] !== undefined) throw bad(`two embeddings for input ${index}`);
      byInput[index] = item.embedding;
    });
    const vectors = byInput as number[][];
    const lengths = [...new Set(vectors.map((vector) => vector.length))];
    if (lengths.length > 1) throw bad(`embeddings of different lengths (${lengths.slice(0, 5).join(', ')})`);
    const dimensions = vectors[0]!.length;
    const usage = answer.usage ?? null;
    if (Array.isArray(texts)) return { model: request.model, embeddings: vectors, dimensions, usage };
    return { model: request.model, embedding: vectors[0], dimensions, usage };
  };
}
