import { z } from 'zod';

/** An RFC 9457 problem as every error response carries it. */
export const problemSchema = z
  .looseObject({
    type: z.string().describe('stable problem type; GET it for an explanation'),
    title: z.string(),
    status: z.number().int().min(400).max(599).describe('the HTTP status of the answer'),
    detail: z.string().describe('what went wrong in this request, and what to do'),
    instance: z.string().optional().describe("this request's ID, as logged; absent from the answers Node gives before a request exists (bytes that are not HTTP, 408, 417, 431)"),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional().describe('each invalid field'),
    job_id: z.string().optional().describe('a 503 whose outcome is not known: the ID the job was sent as; GET /jobs/{id} finds it if it was stored'),
    job_ids: z.array(z.string()).optional().describe('the same for a batch (all of them were stored, or none)'),
  })
  .describe('RFC 9457 problem details (application/problem+json)');

/** A response of problems, under the media type they are sent as (so OpenAPI clients expect it). */
const problemResponse = { description: 'RFC 9457 problem details', content: { 'application/problem+json': { schema: problemSchema } } };

/** Response entries for the error statuses a route can answer with. */
export function problemResponses<const S extends number>(...statuses: S[]): Record<S, typeof problemResponse> {
  return Object.fromEntries(statuses.map((status) => [status, problemResponse])) as Record<S, typeof problemResponse>;
}
