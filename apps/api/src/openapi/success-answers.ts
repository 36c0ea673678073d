import { operationsOf, responsesOf, type Document, type Header, type Response } from './operations.js';

/**
 * What the successful answers carry beyond their JSON body, and a description for each: the
 * route schemas give the bodies, and Fastify describes a response it has no words for as
 * "Default Response".
 */

const JOB_LOCATION: Header = {
  required: true,
  description: 'the job: GET it for its status and result',
  schema: { type: 'string' }, example: '/jobs/inference:01KAB3Z5V1Q7RJ8C2W4N6M9XYT',
};

/** The answers that point at the job they stored or queued again (`reply.header('location', ...)` in the routes). */
const LOCATIONS: Record<string, string[]> = {
  createJob: ['200', '202'],
  uploadDocument: ['200', '202'],
  retryJob: ['202'],
};

const REPLAYED = 'The Idempotency-Key matched a request of the last 24 h: its job, not a new one';

function describedByStatus(status: string, method: string, summary: string | undefined, takesIdempotencyKey: boolean): string {
  if (status === '202') return 'Accepted: stored; the workers do the work after this answer';
  if (status === '200' && takesIdempotencyKey) return REPLAYED;
  if (status === '200' && method === 'get' && summary) return summary;
  return 'Done';
}

export function describeSuccesses(document: Document): void {
  for (const { method, operation } of operationsOf(document)) {
    const responses = responsesOf(operation);
    const takesIdempotencyKey = (operation.parameters ?? []).some((parameter) => 'name' in parameter && parameter.name.toLowerCase() === 'idempotency-key');
    for (const [status, response] of Object.entries(responses) as [string, Response][]) {
      if (!status.startsWith('2')) continue;
      if (response.description === 'Default Response') response.description = describedByStatus(status, method, operation.summary, takesIdempotencyKey);
      if (LOCATIONS[operation.operationId ?? '']?.includes(status)) response.headers = { ...response.headers, Location: JOB_LOCATION };
    }
  }
}
