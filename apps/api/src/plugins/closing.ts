import fp from 'fastify-plugin';
import type { Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { ProblemError } from '../problems/problem-error.js';

/**
 * How long a closing API keeps its open connections before closing the idle ones. Closing a
 * kept-alive connection at once resets a request its client is sending on it at that moment,
 * and the client cannot tell whether it was read; a client that keeps using its connection
 * (a load balancer, a busy producer) sends its next request within this and gets an answer.
 */
const DRAIN_MS = 500;

/** How long a closing API reads the rest of a request's body before it answers 503 (see the onRequest hook). */
const BODY_DRAIN_MS = 1_000;

const openConnections = (server: Server) => new Promise<number>((resolve) => server.getConnections((error, count) => resolve(error ? 0 : count)));

/**
 * Once the API is closing (SIGTERM), a request it still reads (one pipelined or kept alive on a
 * connection that was busy, or sent on a kept-alive one within DRAIN_MS) gets a 503
 * `shutting-down` problem with Retry-After and `Connection: close`, so the client sends it again
 * elsewhere; Fastify's own answer for this (return503OnClosing) is plain JSON that is not a
 * problem. Requests already in flight finish.
 */
export default fp(
  async (app) => {
    let closing = false;
    app.addHook('preClose', async () => {
      closing = true;
      if (!app.server.listening) return;
      const until = Date.now() + DRAIN_MS;
      while (Date.now() < until && (await openConnections(app.server)) > 0) await sleep(20);
    });
    // A callback hook, not an async one: it runs on every request, and a promise costs more.
    app.addHook('onRequest', (request, _reply, done) => {
      if (!closing) return done();
      let refused = false;
      let timer: NodeJS.Timeout | undefined;
      const refuse = () => {
        if (refused) return;
        refused = true;
        clearTimeout(timer);
        done(new ProblemError('shutting-down', 'This API process is shutting down and takes no new requests. Send the request again: another replica, or this one once restarted, will take it.', {}, { 'retry-after': '1', connection: 'close' }));
      };
      // A body still on its way (an upload) is read and dropped first, for up to BODY_DRAIN_MS:
      // answered and closed while its client still sent it, the client's next write failed
      // (EPIPE, or a reset) and it never read the answer. A client waiting for 100 Continue
      // sends no body: it is answered at once.
      const raw = request.raw;
      if (raw.complete || /100-continue/i.test(String(raw.headers.expect ?? ''))) return refuse();
      timer = setTimeout(refuse, BODY_DRAIN_MS);
      raw.once('end', refuse).once('close', refuse).resume();
    });
  },
  { name: 'closing' },
);
