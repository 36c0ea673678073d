/**
 * Every kind of problem the API reports (RFC 9457). The `type` of a problem is
 * `/problems/<slug>`: a stable identifier a client can branch on, and a page (GET it) that
 * says what the problem means and what to do.
 */
export interface ProblemKind {
  status: number;
  title: string;
  /** What it means and how to fix it, for the `/problems/<slug>` page. */
  help: string;
}

export const PROBLEMS = {
  'invalid-request': {
    status: 400,
    title: 'The request is not valid',
    help: 'A field is missing, has the wrong type, or holds a value out of range. `errors` lists each one with its path. Fix those fields and send the request again.',
  },
  'malformed-json': {
    status: 400,
    title: 'The body is not valid JSON',
    help: 'The body could not be parsed as JSON. Check quoting and commas, and that the body is JSON when Content-Type says application/json.',
  },
  'malformed-form': {
    status: 400,
    title: 'The form could not be read',
    help: 'The multipart/form-data body does not match its Content-Type: the boundary is missing, or a part is cut short or badly formed. Let the client build the form (`curl -F file=@report.pdf`, FormData in a browser) rather than writing the body by hand.',
  },
  'malformed-url': {
    status: 400,
    title: 'The URL could not be decoded',
    help: 'A `%` in the path must start a percent-encoded UTF-8 byte, such as `%3A` for `:`. Encode IDs and names with encodeURIComponent before putting them in a path.',
  },
  'unknown-model': {
    status: 400,
    title: 'Unknown model',
    help: 'The `model` field names a model no worker runs. GET /models lists the models that can be used. In a batch, `errors` lists every job that names one, and every other fault of the batch.',
  },
  'missing-file': {
    status: 400,
    title: 'No file was uploaded',
    help: 'POST /documents takes a multipart/form-data body with the document in a file field named `file`, e.g. `curl -F file=@report.pdf http://localhost:3000/documents`.',
  },
  'empty-file': {
    status: 400,
    title: 'The uploaded file is empty',
    help: 'The file has no bytes. Upload a file with content.',
  },
  unauthorized: {
    status: 401,
    title: 'Admin token required',
    help: 'Admin endpoints take `Authorization: Bearer <ADMIN_TOKEN>`. The token is the ADMIN_TOKEN the API was started with.',
  },
  'cross-origin-refused': {
    status: 403,
    title: 'Requests from this page are not accepted',
    help: 'A browser sent this request from a page on another origin that CORS_ORIGINS does not list. Browsers send some requests (form uploads, empty POSTs) without asking first, so the API refuses every request that changes something from a page it does not know, instead of doing the work and only hiding the answer. Add the page\'s origin (scheme, host and port, e.g. http://localhost:5173) to CORS_ORIGINS, or call the API from a server. Clients other than browsers send no Origin header and are not affected.',
  },
  'host-not-allowed': {
    status: 421,
    title: 'This API does not answer to that host name',
    help: 'The request\'s Host header names a host that ALLOWED_HOSTS does not list. A page on a name someone points at this API\'s address (DNS rebinding) would otherwise be the API\'s own origin to the browser, free to read and change jobs. Call the API by a name ALLOWED_HOSTS lists, by its IP address or as localhost, or have the operator add the name to ALLOWED_HOSTS.',
  },
  'job-not-found': {
    status: 404,
    title: 'No such job',
    help: 'No job has this ID: it never existed, or it finished longer ago than the retention period (JOB_RETENTION) and its record expired. Job IDs look like `inference:01JDQ8K3V7X9...`.',
  },
  'not-found': {
    status: 404,
    title: 'Not found',
    help: 'Nothing answers to this path: no route has it (a path that exists with another method is a 405 instead), or what it names in a route (a problem type, a file of the API reference) does not exist. The detail says which. GET /docs shows every route.',
  },
  'method-not-allowed': {
    status: 405,
    title: 'Method not allowed',
    help: 'The path exists but does not take this method. The `Allow` header lists the methods it takes; GET /docs shows each route.',
  },
  'output-not-found': {
    status: 404,
    title: 'No such stage output',
    help: 'The job has no output for that stage: the stage is not part of its pipeline, or has not finished yet. GET the job to see its stages and their status.',
  },
  'queue-not-found': {
    status: 404,
    title: 'No such queue',
    help: 'The queue name is not one Conveyor knows. GET /docs lists the queues in the `queue` and `pipeline` fields.',
  },
  'job-finished': {
    status: 409,
    title: 'The job has already finished',
    help: 'Only a job that has not finished (queued, delayed, retrying or active) can be cancelled. A completed, dead or cancelled job stays as it is; submit a new job instead.',
  },
  'job-not-dead': {
    status: 409,
    title: 'The job is not dead-lettered',
    help: 'Only a dead-lettered job can be retried. GET the job to see its status; GET /queues/{name}/dead lists the dead jobs of a queue.',
  },
  'job-input-lost': {
    status: 409,
    title: 'The job\'s input is gone',
    help: 'The job was dead-lettered with ENTRY_LOST: another Redis client deleted its stream entry (XADD MAXLEN, XTRIM or XDEL) before any worker read it, and its input with it; or with RECORD_LOST: its record was deleted while it waited or ran, and its input with it. Either way it cannot run again. Submit it as a new job; an Idempotency-Key it was sent with is free for that.',
  },
  'payload-too-large': {
    status: 413,
    title: 'The request is too large',
    help: 'The body or uploaded file is over the limit named in `detail` (MAX_BODY_BYTES for JSON, MAX_DOCUMENT_BYTES for uploads). Send less, or raise the limit.',
  },
  'batch-too-large': {
    status: 413,
    title: 'The batch is larger than the queue may hold',
    help: 'The batch has more jobs than MAX_BACKLOG lets its queue hold undone at once (on a partitioned queue, one partition\'s share: a batch without idempotency keys goes to one partition), so it could never be taken, however long it waited. Nothing was written. Send it in batches of at most `limit` jobs.',
  },
  'uri-too-long': {
    status: 414,
    title: 'A path segment is too long',
    help: 'A part of the path (a job ID, a queue or a stage name) is longer than any that Conveyor makes. Check the URL; job IDs look like `inference:01JDQ8K3V7X9...`.',
  },
  'unsupported-media-type': {
    status: 415,
    title: 'Unsupported Content-Type',
    help: 'POST /jobs takes application/json; POST /documents takes multipart/form-data. Set the Content-Type header to match the body.',
  },
  'idempotency-key-reused': {
    status: 422,
    title: 'Idempotency key reused with a different request',
    help: 'An Idempotency-Key identifies one request for 24 hours. The same key was sent before with a different body. Use a new key for a new request.',
  },
  'queue-full': {
    status: 503,
    title: 'The queue is full',
    help: 'The queue holds more undone jobs (waiting or running in any of its stages, delayed, or waiting to retry) than MAX_BACKLOG allows, so new jobs are refused to keep Redis from running out of memory. Wait for Retry-After seconds and send again; add workers if this persists.',
  },
  'service-unavailable': {
    status: 503,
    title: 'Redis is unavailable',
    help: 'The API cannot reach Redis right now (restarting, failing over, out of memory). The detail says whether anything was written: nothing, when Redis was unreachable or refused; not known, when it did not answer in time, and then a submission names its job IDs to look up (GET /jobs/{id}) before sending it again. Wait for Retry-After seconds. Requests with an Idempotency-Key are always safe to send again.',
  },
  'too-many-streams': {
    status: 503,
    title: 'Too many event streams are open',
    help: 'This API process already holds as many event streams (GET /events, GET /jobs/{id}/events) as MAX_EVENT_STREAMS allows, so it opens no more until some close. Close streams you no longer read (a page left open, one stream per job rather than a queue\'s stream) and connect again after Retry-After seconds; an operator can raise MAX_EVENT_STREAMS or run more API processes.',
  },
  busy: {
    status: 503,
    title: 'The API is busy reading other uploads',
    help: 'This API process is already reading as many bytes of uploads and batches (POST /documents, POST /jobs/batch) as BODY_BUDGET allows: each is held in memory until its jobs are stored, and holds its place from its headers (one whose body stops arriving for half of REQUEST_TIMEOUT, 30 s at most, is cut with a 408). Nothing was stored. Send the request again after Retry-After seconds; an operator can raise BODY_BUDGET (with the memory for about three times it) or run more API processes.',
  },
  'redis-key-conflict': {
    status: 503,
    title: 'A queue key in Redis holds another program\'s value',
    help: 'A key under the API\'s KEY_PREFIX holds another kind of value than Conveyor keeps there (Redis answers WRONGTYPE), so requests that use it fail until an operator gives Conveyor a prefix or database of its own (KEY_PREFIX, REDIS_URL), or renames or deletes that key. The detail names the key; Retry-After is 10 seconds. The API and workers also refuse to start on such keys.',
  },
  'shutting-down': {
    status: 503,
    title: 'The server is shutting down',
    help: 'This API process is stopping. Send the request again; another replica (or this one, restarted) will take it.',
  },
  internal: {
    status: 500,
    title: 'Internal error',
    help: 'Something failed inside the API. It is logged with the request ID shown in `instance`; please report it.',
  },
} as const satisfies Record<string, ProblemKind>;

export type ProblemSlug = keyof typeof PROBLEMS;

export function problemType(slug: ProblemSlug): string {
  return `/problems/${slug}`;
}
