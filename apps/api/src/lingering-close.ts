import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';

/** How long a connection closed with its request's body still arriving reads on, at most. */
export const LINGER_MS = 5_000;
/** How much of that body it reads (and throws away) before it is closed all the same. */
export const LINGER_BYTES = 64 * 1024 * 1024;

/** Each connection's latest request: the one whose answer closes it, if one does. */
const latestRequest = new WeakMap<Socket, IncomingMessage>();

/**
 * A connection closed by an answer given before its request's body arrived (a 413 on the
 * Content-Length, which Fastify answers unread and with `Connection: close`) is half-closed after
 * the answer, and the rest of the body is read and thrown away until it ends or the client
 * closes, for at most LINGER_MS and LINGER_BYTES; then the connection is closed.
 *
 * Node closes such a connection as soon as the answer is written, and the kernel answers the
 * body's bytes still coming with a reset, which throws away the answer the client had not read
 * yet: Node's fetch and http clients, still writing the body, reported EPIPE instead of the 413
 * in most tries, and a browser sees a network error. This is nginx's `lingering_close`.
 */
export function lingerOnClose(server: Server): void {
  server.on('connection', (socket: Socket) => {
    socket.destroySoon = lingeringDestroySoon;
  });
  server.on('request', (request: IncomingMessage) => latestRequest.set(request.socket as Socket, request));
}

/** Node's `destroySoon`, which its server calls once an answer that closes the connection is written. */
function lingeringDestroySoon(this: Socket): void {
  const request = latestRequest.get(this);
  if (request === undefined || request.complete || this.destroyed || !this.readable) {
    closeWhenWritten(this);
    return;
  }
  const socket = this;
  const readBefore = socket.bytesRead;
  const close = (): void => {
    clearInterval(watch);
    socket.destroy();
  };
  const startedAt = Date.now();
  // The body is no longer pushed to the request (Node dumped it) and the HTTP parser reads the
  // connection itself, so neither emits the bytes: what was read is counted at the socket.
  const watch = setInterval(() => {
    if (Date.now() - startedAt >= LINGER_MS || socket.bytesRead - readBefore > LINGER_BYTES) close();
  }, 100);
  request.once('end', close);
  socket.once('end', close);
  socket.once('close', () => clearInterval(watch));
  socket.end();
}

/** What Node's own `destroySoon` does: end the writing side, then close once the end is written. */
function closeWhenWritten(socket: Socket): void {
  if (socket.writable) socket.end();
  if (socket.writableFinished) socket.destroy();
  else socket.once('finish', () => socket.destroy());
}
