import fp from 'fastify-plugin';
import { ProblemError } from '../problems/problem-error.js';

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
      if (request.headers.host || request.raw.httpVersion !== '1.1') return done();
      // An empty one names no host either (an http URI's host is never empty): it was a 421 under ALLOWED_HOSTS.
      const sent = request.headers.host === undefined ? 'needs a Host header' : 'has an empty Host header; it needs one naming the host';
      done(new ProblemError('invalid-request', `An HTTP/1.1 request ${sent} (RFC 9112), e.g. "Host: localhost:3000". HTTP clients send it for you; add it to a request written by hand.`));
    });
  },
  { name: 'host-header' },
);
