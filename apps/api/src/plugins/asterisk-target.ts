import fp from 'fastify-plugin';
import { ProblemError } from '../problems/problem-error.js';

/** Every method some route of the API takes. */
const SERVER_METHODS = 'DELETE, GET, HEAD, OPTIONS, POST';

/**
 * The request target `*` asks about the server as a whole, with OPTIONS only (RFC 9112 §3.2.4):
 * `OPTIONS *` is answered with the methods the server takes, and any other method with `*` is a
 * 400. The router would otherwise treat `*` as a path: a 405 for OPTIONS and the dashboard for GET.
 */
export default fp(
  async (app) => {
    // A callback hook, not an async one: it runs on every request.
    app.addHook('onRequest', (request, reply, done) => {
      if (request.url !== '*') return done();
      if (request.method === 'OPTIONS') return void reply.code(204).header('allow', SERVER_METHODS).send();
      done(new ProblemError('invalid-request', `The request target "*" is for OPTIONS only (RFC 9112); send ${request.method} to a path, e.g. ${request.method} /queues.`));
    });
  },
  { name: 'asterisk-target' },
);
