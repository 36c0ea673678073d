import type { IncomingMessage, Server, ServerResponse } from 'node:http';

type RequestListener = (request: IncomingMessage, response: ServerResponse) => void;

/**
 * Requests pipelined on one connection (sent before the answer to the one before them) run one
 * after another, each once the answer before it is written. Node hands each request on as soon as
 * it has read its headers and writes the answers in order, so an answer that closed the
 * connection (Fastify closes it after a body it could not read: malformed JSON, a chunked body
 * over the limit) dropped the answers of the requests behind it, which had run: a POST /jobs
 * stored its job, and its client, told nothing, sent it again. A request still waiting when its
 * connection closes, or read after an answer that closed it (the rest of a body too large, then
 * the next request), is not run, as RFC 9112 §9.6 asks of a server that closes. A request that is
 * not pipelined has its connection at once, and goes on at once.
 *
 * Wraps the server's `request` listeners at the time of the call (Fastify's own).
 */
export function answerInTurn(server: Server): void {
  const listeners = server.listeners('request') as RequestListener[];
  server.removeAllListeners('request');
  const handOn = (request: IncomingMessage, response: ServerResponse): void => {
    for (const listener of listeners) listener.call(server, request, response);
  };
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    // Node gives a pipelined request's answer its connection once the answers before it are written.
    if (response.socket) {
      // Read after an answer that closed the connection (its end is written): no answer can follow.
      if (response.socket.writableEnded || response.socket.destroyed) return;
      return handOn(request, response);
    }
    // One that never gets it (the connection closed first) is not run, and goes with its connection.
    response.once('socket', () => handOn(request, response));
  });
}
