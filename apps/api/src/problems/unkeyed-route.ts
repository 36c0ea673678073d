import type { FastifyRequest } from 'fastify';
import { ProblemError } from './problem-error.js';

/**
 * Refuses an Idempotency-Key on a route that does not take one, rather than ignore it: a client
 * that sends the key with every POST, and sends one again after a network error, would believe
 * the second call safe. `why` says what sending it again does, and what to do instead.
 */
export function refuseIdempotencyKey(request: FastifyRequest, why: string): void {
  if (request.headers['idempotency-key'] === undefined) return;
  const message = 'is not taken here';
  throw new ProblemError('invalid-request', `${request.method} ${request.routeOptions.url} takes no Idempotency-Key header: ${why}`, { errors: [{ path: 'headers.idempotency-key', message }] });
}
