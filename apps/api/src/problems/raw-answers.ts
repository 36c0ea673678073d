import type { IncomingMessage, ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * Problems for requests Node answers before Fastify sees them, written straight to the
 * connection, which is then closed: there is no request object, so no `instance`.
 */
function writeProblem(socket: Duplex, status: number, detail: string, headers = ''): void {
  const body = JSON.stringify({ type: 'about:blank', title: STATUS_CODES[status], status, detail });
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${headers}Connection: close\r\n\r\n${body}`);
  }
}

/**
 * Fastify's `clientErrorHandler`: bytes that are not an HTTP request Node can parse (a bad header
 * line, headers over the size limit, a request that never finished arriving).
 */
export function answerClientError(error: Error & { code?: string }, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, detail] =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'The request did not arrive in time. Send it again.']
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'The request headers are larger than the server takes (16 KiB in all). Send fewer or shorter headers.']
        : [400, `The request is not valid HTTP (${error.code ?? error.message}). Check the request line and that each header is "Name: value".`];
  writeProblem(socket, status, detail);
  socket.destroy(error);
}

/**
 * The server's `checkExpectation`: an Expect header other than 100-continue, which Node would
 * answer with a bare 417 and no body. The body that may follow is not read: the connection closes.
 */
export function answerExpectation(request: IncomingMessage, response: ServerResponse): void {
  const expectation = String(request.headers.expect).slice(0, 100);
  response.shouldKeepAlive = false;
  const body = JSON.stringify({
    type: 'about:blank',
    title: STATUS_CODES[417],
    status: 417,
    detail: `Expect: ${JSON.stringify(expectation)} is not an expectation this server meets; the only one it takes is 100-continue (RFC 9110). Send the request without it.`,
  });
  response.writeHead(417, { 'content-type': 'application/problem+json', 'content-length': Buffer.byteLength(body) }).end(body);
}

/**
 * The server's `connect`: a CONNECT request, which asks for a tunnel (a proxy's job), and which
 * Node answers by closing the connection without a word unless something listens for it.
 */
export function answerConnect(_request: IncomingMessage, socket: Duplex): void {
  // An empty Allow: the target of a CONNECT (host:port) is no resource here, so takes no method (RFC 9110).
  writeProblem(socket, 405, 'CONNECT asks for a tunnel, and this server is not a proxy. Send requests for its routes (GET /docs lists them) straight to it.', 'Allow: \r\n');
  socket.end();
}
