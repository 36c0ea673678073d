import fp from 'fastify-plugin';
import { ProblemError } from '../problems/problem-error.js';

/**
 * Once the API is closing (SIGTERM), a request it still reads (one pipelined or kept alive on a
 * connection that was busy) gets a 503 `shutting-down` problem with Retry-After and
 * `Connection: close`, so the client sends it again elsewhere; Fastify's own answer for this
 * (return503OnClosing) is plain JSON that is not a problem. Requests already in flight finish.
 */
export default fp(
  async (app) => {
    let closing = false;
    app.addHook('preClose', async () => {
      closing = true;
    });
    // A callback hook, not an async one: it runs on every request, and a promise costs more.
    app.addHook('onRequest', (_request, _reply, done) => {
      if (!closing) return done();
      done(new ProblemError('shutting-down', 'This API process is shutting down and takes no new requests. Send the request again: another replica, or this one once restarted, will take it.', {}, { 'retry-after': '1', connection: 'close' }));
    });
  },
  { name: 'closing' },
);
