import fp from 'fastify-plugin';
import { ProblemError } from '../problems/problem-error.js';

/** How many Host headers the request has (`rawHeaders` is names and values, in turn). */
function hostHeaders(rawHeaders: readonly string[]): number {
  let count = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]!.length === 4 && rawHeaders[i]!.toLowerCase() === 'host') count++;
  return count;
}

/**
 * An HTTP/1.1 request must name its host (RFC 9112 §3.2: a 400 otherwise), checked before
 * ALLOWED_HOSTS looks at the name. Node's own check answers such a request with a bare 400 and no
 * body, so the server is built with that check off (`requireHostHeader: false`) and this hook
 * gives the 400 a problem body that says what is missing.
 */
export default fp(
  async (app) => {
    // A callback hook, not an async one: it runs on every request.
    app.addHook('onRequest', (request, _reply, done) => {
      if (request.raw.httpVersion !== '1.1') return done();
      const host = request.headers.host;
      // Node keeps the first of several; RFC 9112 answers them with a 400, as a missing one.
      const sent = host === undefined ? 'needs a Host header' : hostHeaders(request.raw.rawHeaders) > 1 ? 'has more than one Host header; it needs exactly one' : undefined;
      // An empty one, or a port alone (`:3000`), names no host either (an http URI's host is never
      // empty): under ALLOWED_HOSTS it was a 421 for the host name "".
      const named = sent ?? (host === '' || host!.startsWith(':') ? 'has a Host header without a host name; it needs one naming the host' : undefined);
      if (named === undefined) return done();
      // The example names the port the request came to, not the default one.
      const example = `localhost:${request.raw.socket?.localPort ?? 3000}`;
      done(new ProblemError('invalid-request', `An HTTP/1.1 request ${named} (RFC 9112), e.g. "Host: ${example}". HTTP clients send it for you; add it to a request written by hand.`));
    });
  },
  { name: 'host-header' },
);
