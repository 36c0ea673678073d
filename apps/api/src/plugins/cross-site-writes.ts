import type { FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { isPreflight, type CrossOriginPolicy } from '../cross-origin.js';
import { ProblemError } from '../problems/problem-error.js';

/**
 * Refuses, with a 403 problem, a request that would change something when a browser sends it
 * from a page CORS_ORIGINS does not list (see CrossOriginPolicy.refusedOrigin), before its body
 * is read: a page the user happens to visit cannot queue jobs, upload files or retry dead letters
 * on an API it can reach (one on the user's own machine, say). A preflight from such a page gets
 * the same refusal, without CORS headers: the browser reports a CORS error and does not send the
 * request, and the developer who opens the answer in devtools reads why and what to set.
 */
export default fp(
  async (app, { policy }: { policy: CrossOriginPolicy }) => {
    // A callback hook, not an async one: it runs on every request, and a promise costs more.
    app.addHook('onRequest', (request, _reply, done) => {
      const origin = policy.refusedOrigin(request);
      if (origin === undefined) return done();
      done(new ProblemError('cross-origin-refused', refusal(request, origin, policy.origins.length > 0)));
    });
  },
  { name: 'cross-site-writes' },
);

/** What was refused, why, and what to set so that the page may call the API. */
function refusal(request: FastifyRequest, origin: string, configured: boolean): string {
  const preflight = isPreflight(request);
  const asked = preflight ? String(request.headers['access-control-request-method']).slice(0, 20) : request.method;
  const what = preflight ? `This preflight (the OPTIONS a browser sends before a cross-origin ${asked})` : `This ${request.method}`;
  const outcome = preflight ? `so the browser will not send the ${asked}` : 'so it was not carried out';
  if (origin === 'null') {
    return (
      `${what} came from a page whose origin is null, ${outcome}. Browsers send Origin: null for a page opened from a file:// or data: URL, one in a sandboxed iframe, ` +
      'or one reached through a redirect to another origin; such a page cannot be allowed by name, as CORS_ORIGINS takes only scheme://host[:port] origins. ' +
      'Serve the page over http(s) (from a dev server, say) and add its origin, e.g. http://localhost:5173, to CORS_ORIGINS; ' +
      'or set CORS_ORIGINS=*, which lets a page on any origin, null included, call the API and change things (queue jobs, retry dead letters).'
    );
  }
  if (!configured) {
    return `${what} came from a page on ${origin}. CORS_ORIGINS is not set, which lets no page on another origin call the API, ${outcome}. To call the API from that page, set CORS_ORIGINS=${origin} (several origins separated by commas).`;
  }
  return `${what} came from a page on ${origin}, which CORS_ORIGINS does not list, ${outcome}. To call the API from that page, add ${origin} to CORS_ORIGINS.`;
}
