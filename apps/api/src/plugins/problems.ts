import { isPermissionRefusal, isWrongType, type Pipeline } from '@conveyor/shared';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { STATUS_CODES } from 'node:http';
import { PROBLEMS, problemType, type ProblemSlug } from '../problems/catalogue.js';
import { ProblemError } from '../problems/problem-error.js';
import { asRedisUnavailable, foreignKeyProblem, permissionProblem, type Resending } from '../problems/redis-errors.js';
import { RouteMethods } from '../problems/route-methods.js';
import { invalidRequest, plainErrors } from '../problems/validation-wording.js';
import type { CrossOriginPolicy } from '../cross-origin.js';
import { isAdminRoute } from './admin-auth.js';
import { bodyIsOptional } from './json-body.js';
import { ROUTER_OPTIONS } from '../router-options.js';

/**
 * Every error response is an RFC 9457 problem (`application/problem+json`): `type`, `title`,
 * `status`, `detail` (what went wrong in this request and what to do), `instance` (the
 * request ID, also in the logs). This is the one place errors become responses.
 */

const fastifyCodes: Record<string, ProblemSlug> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload-too-large',
  FST_REQ_FILE_TOO_LARGE: 'payload-too-large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported-media-type',
  FST_INVALID_MULTIPART_CONTENT_TYPE: 'unsupported-media-type',
};

interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance: string;
  [extension: string]: unknown;
}

function problemFrom(slug: ProblemSlug, detail: string, request: FastifyRequest, extensions: Record<string, unknown> = {}): ProblemBody {
  const kind = PROBLEMS[slug];
  return { type: problemType(slug), title: kind.title, status: kind.status, detail, instance: `urn:request:${request.id}`, ...extensions };
}

function detailOf(error: FastifyError, request: FastifyRequest, limits: Limits): [ProblemSlug, string] | undefined {
  const slug = fastifyCodes[error.code];
  if (!slug) return undefined;
  switch (slug) {
    case 'payload-too-large': {
      // Named with the setting that sets the limit, for whoever runs the API.
      if (error.code === 'FST_REQ_FILE_TOO_LARGE') return [slug, `The uploaded file is larger than the limit of ${limits.documentBytes} bytes (MAX_DOCUMENT_BYTES).`];
      const batch = request.routeOptions.url === '/jobs/batch';
      const limit = request.routeOptions.bodyLimit ?? limits.bodyBytes;
      return [slug, `The request body is larger than the limit of ${limit} bytes (${batch ? 'MAX_BATCH_BYTES; send the jobs in smaller batches' : 'MAX_BODY_BYTES'}).`];
    }
    case 'unsupported-media-type': {
      // What this route takes: an upload is a form; every other body is JSON, and retry, cancel or
      // pause is mostly sent none.
      const takes = request.routeOptions.url === '/documents' ? 'multipart/form-data (curl -F file=@report.pdf)' : bodyIsOptional(request) ? 'no body, or application/json' : 'application/json';
      return [slug, `Content-Type "${request.headers['content-type'] ?? '(none)'}" is not accepted on ${request.method} ${request.url.split('?')[0]}, which takes ${takes}. Set the Content-Type header to match the body.`];
    }
    default:
      return [slug, error.message];
  }
}

function send(reply: FastifyReply, body: ProblemBody, headers: Record<string, string> = {}): FastifyReply {
  return reply.code(body.status).headers(headers).type('application/problem+json').send(body);
}

/**
 * Fastify's `frameworkErrors`: a path it cannot decode, or a path segment over its length limit,
 * is refused before routing, where no error handler and no hook runs, so it is answered here,
 * with the CORS headers a page on an allowed origin needs to read the problem.
 */
export const frameworkErrorAnswer = (crossOrigin: CrossOriginPolicy) => (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void => {
  reply.headers(crossOrigin.answerHeaders(request.headers.origin));
  if (error.code === 'FST_ERR_BAD_URL') {
    send(reply, problemFrom('malformed-url', `The path ${JSON.stringify(request.url.split('?')[0])} cannot be decoded: each % must start a percent-encoded UTF-8 byte, such as %3A for ":".`, request));
  } else if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    send(reply, problemFrom('uri-too-long', `A segment of the path is longer than ${ROUTER_OPTIONS.maxParamLength} characters; no job ID, queue or stage name is that long.`, request));
  } else {
    request.log.error({ err: error }, 'unhandled framework error');
    send(reply, problemFrom('internal', `Internal error; it is logged under request ${request.id}.`, request));
  }
};

/** How the request could be sent again safely, for a 503 whose outcome is not known (see Resending). */
function resendingOf(request: FastifyRequest): Resending {
  if (request.method !== 'POST') return {};
  const route = request.routeOptions.url;
  if (route === '/jobs' || route === '/documents') {
    return request.headers['idempotency-key'] === undefined ? { advice: 'send it with an Idempotency-Key so that sending again is safe' } : { keyed: true };
  }
  if (route === '/jobs/batch') {
    // The body as parsed: an error before or during validation leaves it as the client sent it.
    const jobs = (request.body as { jobs?: unknown } | null | undefined)?.jobs;
    const keyed = Array.isArray(jobs) && jobs.every((job) => typeof job === 'object' && job !== null && 'idempotency_key' in job);
    return keyed ? { keyed: true } : { advice: 'give each job an idempotency_key so that sending again is safe' };
  }
  return {};
}

export interface Limits {
  bodyBytes: number;
  documentBytes: number;
}

export interface ProblemsOptions extends Limits {
  /** Whether ADMIN_TOKEN is set: without it admin routes do not exist, for any method. */
  adminEnabled: boolean;
  /** KEY_PREFIX and the queues served, to name a key that holds another program's value (foreignKeyProblem). */
  keyPrefix: string;
  queues: readonly Pipeline[];
}

/** At most one "Redis unavailable" warning per this long. */
const REDIS_WARNING_MS = 10_000;

export default fp(
  async (app, { adminEnabled, keyPrefix, queues, ...limits }: ProblemsOptions) => {
    /**
     * A request answered 503 for Redis: counted, whichever part of the API found it out, and
     * logged at most once per REDIS_WARNING_MS with how many more were answered so since: through
     * an outage every request is, and a line each would bury the log.
     */
    let warnedAt = -Infinity;
    let unlogged = 0;
    const redisUnavailable = (request: FastifyRequest, why: string) => {
      app.metrics?.redisErrors.inc();
      const now = Date.now();
      if (now - warnedAt < REDIS_WARNING_MS) {
        unlogged += 1;
        return;
      }
      request.log.warn({ err: why, ...(unlogged > 0 && { also_answered_503: unlogged }) }, 'Redis unavailable; answered 503');
      warnedAt = now;
      unlogged = 0;
    };

    app.setErrorHandler((error: FastifyError, request, reply) => {
      if (error instanceof ProblemError) {
        // Services say so themselves when an enqueue's outcome is not known; /readyz's 503 is its answer, not an error.
        if (error.slug === 'service-unavailable' && request.routeOptions.url !== '/readyz') redisUnavailable(request, error.detail);
        return send(reply, problemFrom(error.slug, error.detail, request, error.extensions), error.headers);
      }
      const readOnly = request.method === 'GET' || request.method === 'HEAD';
      if (isWrongType(error)) {
        const { id, name } = (request.params ?? {}) as { id?: string; name?: string };
        return foreignKeyProblem(app.redis, keyPrefix, queues, error, readOnly, { jobId: id, queue: name }).then((problem) => {
          redisUnavailable(request, problem.detail);
          return send(reply, problemFrom(problem.slug, problem.detail, request), problem.headers);
        });
      }
      if (isPermissionRefusal(error)) {
        const problem = permissionProblem(error, keyPrefix, readOnly);
        redisUnavailable(request, problem.detail);
        return send(reply, problemFrom(problem.slug, problem.detail, request), problem.headers);
      }
      const unavailable = asRedisUnavailable(error, readOnly, () => resendingOf(request), app.redisConnectionError?.());
      if (unavailable) {
        // Redis's own refusal (OOM, MISCONF) as it said it; a lost connection as the client is told
        // it (the client library's words, "Stream isn't writeable and enableOfflineQueue options
        // is false", said nothing to an operator).
        redisUnavailable(request, error.name === 'ReplyError' ? error.message : unavailable.detail);
        return send(reply, problemFrom(unavailable.slug, unavailable.detail, request), unavailable.headers);
      }
      if (hasZodFastifySchemaValidationErrors(error)) {
        const where = error.validationContext ?? 'body';
        const { detail, errors } = invalidRequest(plainErrors(error.validation.map((issue) => ({ path: [where, ...issue.instancePath.split('/').filter(Boolean)].join('.'), message: issue.message ?? 'is not valid' }))));
        return send(reply, problemFrom('invalid-request', detail, request, { errors }));
      }
      const known = detailOf(error, request, limits);
      if (known) return send(reply, problemFrom(known[0], known[1], request));

      const status = typeof error.statusCode === 'number' ? error.statusCode : 500;
      // The documentation's file server refuses a path that climbs out of its folder, or holds a
      // NUL byte, with a bare "Forbidden"; there is no such file, and the answer says why.
      if (status === 403 && request.routeOptions.url?.startsWith('/docs/static/')) {
        const path = request.url.split('?')[0];
        return send(reply, problemFrom('not-found', `There is no file ${path}: a path under /docs/static may not climb out of its folder ("..") or hold a NUL byte. GET /docs lists every route.`, request));
      }
      if (status >= 400 && status < 500) {
        const slug: ProblemSlug | undefined = status === 400 ? 'invalid-request' : status === 413 ? 'payload-too-large' : undefined;
        const body = slug
          ? problemFrom(slug, error.message, request)
          : { type: 'about:blank', title: STATUS_CODES[status] ?? 'Error', status, detail: error.message, instance: `urn:request:${request.id}` };
        return send(reply, body);
      }
      request.log.error({ err: error }, 'unhandled error');
      return send(reply, problemFrom('internal', `Internal error; it is logged under request ${request.id}.`, request));
    });

    const routeMethods = new RouteMethods(ROUTER_OPTIONS);
    app.addHook('onRoute', (route) => {
      if (!adminEnabled && isAdminRoute(app, route)) return;
      routeMethods.add(route.method, route.url);
    });

    app.setNotFoundHandler((request, reply) => {
      const path = request.url.split('?')[0];
      const allowed = routeMethods.allowedAt(request.url);
      // A route that takes this method found nothing: the documentation's file server has no such file.
      if (allowed.some((method) => method === request.method)) {
        return send(reply, problemFrom('not-found', `There is no file ${path}. GET /docs lists every route.`, request));
      }
      if (allowed.length > 0) {
        return send(reply, problemFrom('method-not-allowed', `${path} does not take ${request.method}; it takes ${allowed.join(', ')}.`, request), { allow: allowed.join(', ') });
      }
      return send(reply, problemFrom('not-found', `There is no route ${request.method} ${path}. GET /docs lists every route.`, request));
    });
  },
  { name: 'problems' },
);
