import cors, { type FastifyCorsOptions } from '@fastify/cors';
import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { EXPOSED_HEADERS, type CrossOriginPolicy } from '../../cross-origin.js';

type ResolveOptions = (request: FastifyRequest, callback: (error: Error | null, options: FastifyCorsOptions) => void) => void;

/**
 * Cross-origin calls from browser frontends, for the origins in CORS_ORIGINS (`*` for any).
 * Without the setting no CORS header is sent and browsers allow same-origin pages only.
 * Clients authenticate with a bearer token, never cookies, so credentials are not allowed.
 * A frontend can read the headers that matter to it: Location of a new job, Retry-After of a 503,
 * Allow of a 405. A listed origin's page may send any request header its preflight asks for: a
 * fixed list refused the ones tracing SDKs add (`traceparent`, `sentry-trace`) and every fetch
 * of such a page failed; the API reads the headers it knows and ignores the rest.
 *
 * Options are chosen per request: a request from an origin not listed (or with no Origin) gets
 * no CORS header at all, and an OPTIONS request that is not a preflight (no
 * Access-Control-Request-Method) is answered as without CORS, with a 405 problem, instead of the
 * plugin's plain-text 400. A preflight from an origin not listed (or from any origin, without the
 * setting) goes on to the cross-site-writes plugin, which refuses it with the 403 a write gets.
 */
export default fp(
  async (app, { policy }: { policy: CrossOriginPolicy }) => {
    if (policy.origins.length === 0) return;
    const options: FastifyCorsOptions = {
      origin: policy.any ? '*' : [...policy.origins],
      methods: ['GET', 'HEAD', 'POST', 'DELETE'],
      // No allowedHeaders: the plugin allows those the preflight asks for (Vary: Access-Control-Request-Headers).
      exposedHeaders: EXPOSED_HEADERS,
      maxAge: 600,
    };
    const notPreflight: FastifyCorsOptions = { ...options, preflight: false };
    const none: FastifyCorsOptions = { origin: false };
    const resolve: ResolveOptions = (request, callback) => {
      const origin = request.headers.origin;
      if (origin === undefined || !policy.allows(origin)) return callback(null, none);
      callback(null, request.method === 'OPTIONS' && request.headers['access-control-request-method'] === undefined ? notPreflight : options);
    };
    // The answer depends on Origin for every request, so caches must keep one per origin.
    if (!policy.any) {
      app.addHook('onRequest', (_request, reply, done) => {
        reply.header('vary', 'Origin');
        done();
      });
    }
    await app.register(cors, () => resolve);
  },
  { name: 'cors' },
);
