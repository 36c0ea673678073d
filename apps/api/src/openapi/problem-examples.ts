import { STATUS_CODES } from 'node:http';
import { PROBLEMS, problemType, type ProblemSlug } from '../problems/catalogue.js';
import { ROUTER_OPTIONS } from '../router-options.js';
import type { OperationAt } from './operations.js';

/**
 * An example of each problem answer, as the API sends it, for Swagger UI and Postman. Without
 * one, they made it up from the Problem schema: `"status": -9007199254740991` (the least integer
 * the schema allowed) and an `additionalProp1` for the extension members it allows.
 */

const INSTANCE = 'urn:request:5b0e9c2e-7f4a-4d3b-9a61-2c8d1e4f7a90';
const JOB_ID = 'inference:01KAB3Z5V1Q7RJ8C2W4N6M9XYT';

interface Example {
  slug: ProblemSlug;
  detail: string;
  extensions?: Record<string, unknown>;
}

const INVALID_FIELD = 'must be one of "high", "normal", "low"';

/** The operations whose bodies have a `priority`, and its path in them. */
const PRIORITY_FIELDS: Record<string, string> = { createJob: 'body.priority', uploadDocument: 'body.priority', createJobBatch: 'body.jobs.0.priority' };

/** By status; a status with several kinds of problem shows the one most requests meet. */
const BY_STATUS: Record<number, Example> = {
  401: { slug: 'unauthorized', detail: 'This is an admin endpoint: send Authorization: Bearer <ADMIN_TOKEN>.' },
  403: {
    slug: 'cross-origin-refused',
    detail: 'This POST came from a page on http://localhost:5173, which CORS_ORIGINS does not list, so it was not carried out. To call the API from that page, add http://localhost:5173 to CORS_ORIGINS.',
  },
  404: { slug: 'job-not-found', detail: `No job has the ID "${JOB_ID}". It never existed, or it finished more than JOB_RETENTION ago and expired.` },
  405: { slug: 'method-not-allowed', detail: `/jobs/${JOB_ID} does not take PATCH; it takes DELETE, GET, HEAD.` },
  409: { slug: 'job-finished', detail: `Job "${JOB_ID}" is completed; only a job that has not finished can be cancelled.`, extensions: { job_status: 'completed' } },
  413: { slug: 'payload-too-large', detail: 'The request body is larger than the limit of 1048576 bytes (MAX_BODY_BYTES).' },
  414: { slug: 'uri-too-long', detail: `A segment of the path is longer than ${ROUTER_OPTIONS.maxParamLength} characters; no job ID, queue or stage name is that long.` },
  415: { slug: 'unsupported-media-type', detail: 'Content-Type "text/plain" is not accepted on POST /jobs, which takes application/json. Set the Content-Type header to match the body.' },
  421: { slug: 'host-not-allowed', detail: 'This API does not answer to the host name "conveyor.example" (ALLOWED_HOSTS). Call it by a name ALLOWED_HOSTS lists, by its IP address or as localhost.' },
  422: { slug: 'idempotency-key-reused', detail: 'Idempotency key "order-1234" was already used within the last 24 hours (IDEMPOTENCY_TTL) for a different request. Use a new key for a new request.' },
};

/** A 503 as a read and a write are told it (redis-errors.ts). */
function unavailable({ method }: OperationAt): Example {
  const outcome = method === 'get' ? 'Send the request again after Retry-After.' : 'Nothing was written.';
  return { slug: 'service-unavailable', detail: `Redis is unreachable (connect ECONNREFUSED 127.0.0.1:6379). ${outcome}` };
}

/** Where a 404 is about something other than a job: a queue, a problem type, an admin route while ADMIN_TOKEN is not set. */
const NOT_FOUND_BY_PATH: [RegExp, Example][] = [
  [/^\/(queues|events)\b/, { slug: 'queue-not-found', detail: 'There is no queue "inferance". Queues: inference, documents, document-summary.' }],
  [/^\/problems\//, { slug: 'not-found', detail: `There is no problem type "no-such-problem". Known: ${Object.keys(PROBLEMS).join(', ')}.` }],
  [/^\/admin\//, { slug: 'not-found', detail: 'POST /admin/broadcast is an admin endpoint, and admin endpoints are off: this API was started without ADMIN_TOKEN. Set ADMIN_TOKEN (16 characters or more) and restart the API to use them.' }],
];

/** A 400 for what the operation takes: a `priority` out of range, a path, else a request without Host. */
function badRequest({ path, operation }: OperationAt): Example {
  const field = PRIORITY_FIELDS[operation.operationId ?? ''];
  if (field) return { slug: 'invalid-request', detail: `${field}: ${INVALID_FIELD}`, extensions: { errors: [{ path: field, message: INVALID_FIELD }] } };
  if (path.includes('{')) {
    const sent = path.replace(/\{[^}]+\}/, '%E0%A4%A').replace(/\{[^}]+\}/g, 'x');
    return { slug: 'malformed-url', detail: `The path ${JSON.stringify(sent)} cannot be decoded: each % must start a percent-encoded UTF-8 byte, such as %3A for ":".` };
  }
  return { slug: 'invalid-request', detail: 'An HTTP/1.1 request needs a Host header (RFC 9112), e.g. "Host: localhost:3000". HTTP clients send it for you; add it to a request written by hand.' };
}

/** Answered by Node before a request exists (raw-answers.ts): `about:blank`, no `instance`. */
const BEFORE_A_REQUEST: Record<number, string> = {
  408: 'The request did not arrive in full within REQUEST_TIMEOUT (headers within 60 s at most). Send it again; on a link too slow for its size, the API must allow more (REQUEST_TIMEOUT).',
  417: 'Expect: "202-accepted" is not an expectation this server meets; the only one it takes is 100-continue (RFC 9110). Send the request without it.',
  431: 'The request headers are larger than the server takes (16 KiB in all). Send fewer or shorter headers.',
};

/** The example problem `at` answers with `status`; undefined for a status without one. */
export function problemExample(status: number, at: OperationAt): Record<string, unknown> | undefined {
  const raw = BEFORE_A_REQUEST[status];
  if (raw) return { type: 'about:blank', title: STATUS_CODES[status], status, detail: raw };
  const example = status === 400 ? badRequest(at) : status === 503 ? unavailable(at) : ((status === 404 ? NOT_FOUND_BY_PATH.find(([path]) => path.test(at.path))?.[1] : undefined) ?? BY_STATUS[status]);
  if (!example) return undefined;
  const kind = PROBLEMS[example.slug];
  return { type: problemType(example.slug), title: kind.title, status: kind.status, detail: example.detail, instance: INSTANCE, ...example.extensions };
}
