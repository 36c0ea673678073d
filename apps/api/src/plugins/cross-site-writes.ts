import fp from 'fastify-plugin';
import type { CrossOriginPolicy } from '../cross-origin.js';
import { ProblemError } from '../problems/problem-error.js';

/**
 * Refuses, with a 403 problem, a request that would change something when a browser sends it
 * from a page CORS_ORIGINS does not list (see CrossOriginPolicy.refusedOrigin), before its body
 * is read: a page the user happens to visit cannot queue jobs, upload files or retry dead letters
 * on an API it can reach (one on the user's own machine, say).
 */
export default fp(
  async (app, { policy }: { policy: CrossOriginPolicy }) => {
    // A callback hook, not an async one: it runs on every request, and a promise costs more.
    app.addHook('onRequest', (request, _reply, done) => {
      const origin = policy.refusedOrigin(request);
      if (origin === undefined) return done();
      done(
        new ProblemError(
          'cross-origin-refused',
          `This ${request.method} came from a page on ${origin}, which CORS_ORIGINS does not list, so it was not carried out. To call the API from that page, add ${origin} to CORS_ORIGINS.`,
        ),
      );
    });
  },
  { name: 'cross-site-writes' },
);
