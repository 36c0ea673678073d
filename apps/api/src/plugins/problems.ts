import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { STATUS_CODES } from 'node:http';
import { PROBLEMS, problemType, type ProblemSlug } from '../problems/catalogue.js';
import { ProblemError } from '../problems/problem-error.js';
import { asRedisUnavailable } from '../problems/redis-errors.js';

/**
 * Every error response is an RFC 9457 problem (`application/problem+json`): `type`, `title`,
 * `status`, `detail` (what went wrong in this request and what to do), `instance` (the
 * request ID, also in the logs). This is the one place errors become responses.
 */

const fastifyCodes: Record<string, ProblemSlug> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'malformed-json',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'malformed-json',
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
    case 'malformed-json':
      return [slug, `${error.message}. Send a JSON object, e.g. {"model":"echo","prompt":"hi"}.`];
    case 'payload-too-large': {
      const limit = error.code === 'FST_REQ_FILE_TOO_LARGE' ? limits.documentBytes : (request.routeOptions.bodyLimit ?? limits.bodyBytes);
      return [slug, `The ${error.code === 'FST_REQ_FILE_TOO_LARGE' ? 'uploaded file' : 'request body'} is larger than the limit of ${limit} bytes.`];
    }
    case 'unsupported-media-type':
      return [slug, `Content-Type "${request.headers['content-type'] ?? '(none)'}" is not accepted on ${request.method} ${request.routeOptions.url ?? request.url}. ${PROBLEMS[slug].help}`];
    default:
      return [slug, error.message];
  }
}

export interface Limits {
  bodyBytes: number;
  documentBytes: number;
}

export default fp(
  async (app, limits: Limits) => {
    const send = (reply: FastifyReply, body: ProblemBody, headers: Record<string, string> = {}) =>
      reply.code(body.status).headers(headers).type('application/problem+json').send(body);

    app.setErrorHandler((error: FastifyError, request, reply) => {
      if (error instanceof ProblemError) {
        return send(reply, problemFrom(error.slug, error.detail, request, error.extensions), error.headers);
      }
      const unavailable = asRedisUnavailable(error);
      if (unavailable) {
        app.metrics?.redisErrors.inc();
        request.log.warn({ err: error.message }, 'Redis unavailable; answered 503');
        return send(reply, problemFrom(unavailable.slug, unavailable.detail, request), unavailable.headers);
      }
      if (hasZodFastifySchemaValidationErrors(error)) {
        const where = error.validationContext ?? 'body';
        const errors = error.validation.map((issue) => ({
          path: [where, ...issue.instancePath.split('/').filter(Boolean)].join('.'),
          message: issue.message,
        }));
        const detail = errors.map((e) => `${e.path}: ${e.message}`).join('; ');
        return send(reply, problemFrom('invalid-request', detail, request, { errors }));
      }
      const known = detailOf(error, request, limits);
      if (known) return send(reply, problemFrom(known[0], known[1], request));

      const status = typeof error.statusCode === 'number' ? error.statusCode : 500;
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

    app.setNotFoundHandler((request, reply) =>
      send(reply, problemFrom('not-found', `There is no route ${request.method} ${request.url.split('?')[0]}. GET /docs lists every route.`, request)),
    );
  },
  { name: 'problems' },
);
