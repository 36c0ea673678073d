import type { OpenAPIV3_1 } from 'openapi-types';
import { operationsOf, type Document } from './operations.js';

/**
 * A body each operation takes as it is, for Swagger UI's "Try it out" and the requests Postman
 * builds from the document. Without them, Swagger UI built bodies from the schemas: `"model":
 * "string"` with `run_at` and `delay_ms` both set, `metadata` of `"string"`, which the API
 * refused with a 400 on a user's first try. Each is sent by a test and taken.
 *
 * The upload form has none: Swagger UI fills a form's fields with their examples, and sent them
 * as if the user had chosen them (a job with metadata and a 60 s timeout nobody asked for). Its
 * optional fields say what they take in their descriptions, and start empty (swagger-ui-forms.ts).
 */
const JSON_EXAMPLES: Record<string, unknown> = {
  // The seed's example job.
  createJob: { user_id: '12345', model: 'echo', prompt: 'Summarize this document...', priority: 'normal' },
  createJobBatch: { jobs: [{ model: 'echo', prompt: 'first' }, { model: 'echo', prompt: 'second', priority: 'high' }] },
  cancelJob: {},
  retryJob: {},
  retryDeadLetters: {},
  broadcast: { type: 'invalidate-model-cache' },
  pauseQueue: {},
  resumeQueue: {},
  replayHistory: { from: '2026-01-01T00:00:00Z', to: '2026-01-01T01:00:00Z', limit: 100 },
};

export function addRequestExamples(document: Document): void {
  for (const { operation } of operationsOf(document)) {
    const body = operation.requestBody as OpenAPIV3_1.RequestBodyObject | undefined;
    const json = body?.content['application/json'];
    const example = JSON_EXAMPLES[operation.operationId ?? ''];
    if (json && example !== undefined) json.example = example;
  }
}
