import { STATUS_CODES } from 'node:http';
import { z } from 'zod';
import { ROUTER_OPTIONS } from '../router-options.js';
import { problemSchema } from '../schemas/problem.js';
import { operationsOf, responsesOf, type Document, type Header, type OperationAt } from './operations.js';
import { problemExample } from './problem-examples.js';

/**
 * The error answers the framework gives an operation whatever its route schema lists: they come
 * from the router, the body parser and the error handler, not from the route, so they are added
 * here by kind of operation. Every problem response then refers to one `Problem` schema and says
 * in its description when it is sent.
 */

/** Methods whose bodies Fastify reads (and refuses, when too large or of a type it does not take). */
const BODY_METHODS = new Set(['post', 'put', 'patch', 'delete']);

const RULES: { status: number; appliesTo: (at: OperationAt) => boolean }[] = [
  // The 405 lookup answers for any path a route has, with the methods it takes.
  { status: 405, appliesTo: () => true },
  // A path parameter the router refuses (over maxParamLength) or cannot percent-decode.
  { status: 414, appliesTo: ({ path }) => path.includes('{') },
  // Bytes Node cannot read as HTTP, an HTTP/1.1 request without Host, a path that cannot be decoded.
  { status: 400, appliesTo: () => true },
  // Answered by Node before any route (raw-answers.ts, expect-continue.ts), and by allowed-hosts.ts.
  { status: 408, appliesTo: () => true },
  { status: 417, appliesTo: () => true },
  { status: 421, appliesTo: () => true },
  { status: 431, appliesTo: () => true },
  { status: 413, appliesTo: ({ method, operation }) => BODY_METHODS.has(method) || operation.requestBody !== undefined },
  { status: 415, appliesTo: ({ method, operation }) => BODY_METHODS.has(method) || operation.requestBody !== undefined },
  // A browser's write from a page CORS_ORIGINS does not list (cross-site-writes.ts); reads pass.
  { status: 403, appliesTo: ({ method }) => !['get', 'head', 'options'].includes(method) },
  // Redis unavailable, or (for any operation) a request read while the API shuts down (closing.ts).
  { status: 503, appliesTo: () => true },
];

const WHEN: Record<number, string> = {
  400: 'The request is not valid: a field (each listed in `errors`), JSON or a form that cannot be read, a path that cannot be percent-decoded, an HTTP/1.1 request without `Host`, or bytes that are not HTTP (`type` about:blank, no `instance`, the connection closed)',
  401: 'No `Authorization: Bearer <ADMIN_TOKEN>`, or not the right token',
  403: 'Sent by a browser from a page on an origin CORS_ORIGINS does not list; nothing was done',
  404: 'Not found: no such job, queue, stage output or problem type (the `type` says which); admin routes answer 404 while ADMIN_TOKEN is not set',
  405: 'The path does not take this method; `Allow` lists the methods it takes',
  408: 'The headers and body did not all arrive within REQUEST_TIMEOUT, or an upload or batch sent nothing of its body for half of it (30 s at most) while it held its place in BODY_BUDGET (`type` about:blank, no `instance`); the connection is closed',
  409: 'The job is not in a state that allows this: cancelling a finished job, retrying one that is not dead or whose input was lost with its stream entry',
  413: 'The body is over the limit: MAX_BODY_BYTES (MAX_BATCH_BYTES for a batch, MAX_DOCUMENT_BYTES for an uploaded file); or a batch without idempotency keys has more jobs than MAX_BACKLOG lets its queue, or one partition, hold (`batch-too-large`)',
  414: `A path segment (job ID, queue, stage, problem type) is longer than ${ROUTER_OPTIONS.maxParamLength} characters`,
  415: 'The Content-Type is not one this operation takes, or the body is compressed (Content-Encoding)',
  417: 'An `Expect` header other than `100-continue` (`type` about:blank, no `instance`); the connection is closed',
  421: 'The `Host` header names a host ALLOWED_HOSTS, when set, does not list',
  422: 'The Idempotency-Key was sent before with a different request',
  431: 'The request headers are over 16 KiB in all (`type` about:blank, no `instance`); the connection is closed',
  503: 'Redis is unavailable or refusing writes, the queue holds MAX_BACKLOG undone jobs, this API process is reading BODY_BUDGET bytes of other uploads and batches (POST /documents, POST /jobs/batch), or it is shutting down, or a key of the queue holds another program\'s value (an operator must act); send again after Retry-After seconds',
};

const HEADERS: Record<number, Record<string, Header>> = {
  401: { 'WWW-Authenticate': { required: true, description: 'the scheme to authenticate with', schema: { type: 'string' }, example: 'Bearer realm="conveyor-admin"' } },
  405: { Allow: { required: true, description: 'the methods the path takes', schema: { type: 'string' }, example: 'DELETE, GET, HEAD' } },
  415: { 'Accept-Encoding': { description: 'sent when the body was refused for its Content-Encoding: bodies are taken uncompressed', schema: { type: 'string', enum: ['identity'] } } },
  503: { 'Retry-After': { required: true, description: 'seconds to wait before sending the request again', schema: { type: 'integer', minimum: 0 } } },
};

const PROBLEM = 'application/problem+json';

export function addProblemAnswers(document: Document): void {
  const { $schema: _, ...problem } = z.toJSONSchema(problemSchema, { io: 'output', unrepresentable: 'any' });
  document.components ??= {};
  document.components.schemas = { ...document.components.schemas, Problem: problem as Record<string, unknown> };
  for (const at of operationsOf(document)) {
    const responses = responsesOf(at.operation);
    for (const { status } of RULES.filter((rule) => rule.appliesTo(at))) responses[status] ??= { description: '', content: { [PROBLEM]: {} } };
    for (const [status, response] of Object.entries(responses)) {
      if (!response.content?.[PROBLEM]) continue;
      response.description = WHEN[Number(status)] ?? STATUS_CODES[Number(status)] ?? response.description;
      const example = problemExample(Number(status), at);
      response.content[PROBLEM] = { schema: { $ref: '#/components/schemas/Problem' }, ...(example ? { example } : {}) };
      const headers = HEADERS[Number(status)];
      if (headers) response.headers = { ...response.headers, ...headers };
    }
  }
}
