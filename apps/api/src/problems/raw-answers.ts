import type { IncomingMessage, ServerResponse } from 'node:http';
import { METHODS, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { CrossOriginPolicy } from '../cross-origin.js';

/**
 * Counts an answer given here, before any route (conveyor_http_requests_total counts the others):
 * the request's method, `unknown` when Node could not read it.
 */
export type RawAnswerCounter = (method: string, status: number) => void;

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

/** Each connection's answers not yet written in full; a connection is here once it has had a request. */
const unanswered = new WeakMap<Duplex, Set<ServerResponse>>();

/**
 * Connections whose last request was answered before its body had all arrived (a 415, a 404,
 * kept open while Node reads the rest): that request timing out later is not answered again.
 */
const answeredEarly = new WeakSet<Duplex>();

/** The server's `request` listener that keeps `unanswered` (and `answeredEarly`). */
export function trackAnswers(request: IncomingMessage, response: ServerResponse): void {
  let answers = unanswered.get(request.socket);
  if (!answers) unanswered.set(request.socket, (answers = new Set()));
  answers.add(response);
  response.once('close', () => {
    answers.delete(response);
    if (request.complete) return;
    const socket = request.socket;
    answeredEarly.add(socket);
    request.once('end', () => answeredEarly.delete(socket));
  });
}

/** The code of the error BodyBudget reports for a body that stopped arriving while it held its place. */
export const BODY_STALLED = 'CONVEYOR_BODY_STALLED';

/** Connections whose bad bytes are being answered: Node reports each later chunk's error again. */
const answering = new WeakSet<Duplex>();

/** What was wrong with the bytes, by llhttp's code, for the 400's detail. */
function invalidHttpDetail(code: string | undefined, reason: string | undefined, afterRequest: boolean): string {
  // llhttp reports both headers together as a bad Content-Length, or a bad Transfer-Encoding,
  // whichever came second; only its reason tells that from a length that is not a number.
  const both = (code === 'HPE_INVALID_CONTENT_LENGTH' && reason?.includes('Transfer-Encoding')) || (code === 'HPE_INVALID_TRANSFER_ENCODING' && reason?.includes('Content-Length'));
  if (both) code = 'HPE_UNEXPECTED_CONTENT_LENGTH';
  switch (code) {
    case 'HPE_INVALID_EOF_STATE':
      return 'The connection was closed before the request was complete: its body is shorter than its Content-Length says, or its chunked body ended before the last chunk (of length 0). Content-Length counts the body\'s bytes (in UTF-8), not its characters.';
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
      return 'The request has more than one Content-Length, or both Content-Length and Transfer-Encoding: send one of them, once.';
    case 'HPE_INVALID_CONTENT_LENGTH':
      return 'The request\'s Content-Length is not a number of bytes: send the body\'s length in bytes, in decimal digits.';
    case 'HPE_INVALID_CHUNK_SIZE':
      return 'The request\'s chunked body has a chunk size that is not a hexadecimal number: each chunk starts with its length in hexadecimal, then CRLF.';
  }
  // llhttp's "Expected LF after chunk data": more bytes than the chunk's size line said.
  if (code === 'HPE_STRICT' && reason?.includes('chunk data')) {
    return 'The request\'s chunked body has a chunk longer than its size says: each chunk starts with its length in bytes, in hexadecimal, then CRLF, and ends with CRLF right after that many bytes.';
  }
  // The parser found the start of a request where a request ended: bytes followed the body of the
  // one before it, which is answered first.
  if (afterRequest && (code === 'HPE_INVALID_METHOD' || code === 'HPE_INVALID_CONSTANT')) {
    return `The bytes after the previous request on this connection are not an HTTP request (${code}): most likely that request's body was longer than its Content-Length. Content-Length counts the body's bytes (in UTF-8), not its characters, and a request with a body needs Content-Length or Transfer-Encoding: chunked.`;
  }
  return `The request is not valid HTTP (${code}). Check the request line and that each header is "Name: value".`;
}

/** A request line (`FOO /jobs HTTP/1.1`), at the start of the bytes or of a line of them. */
const REQUEST_LINE = /(?:^|\n)([!#$%&'*+.^_`|~0-9A-Za-z-]{1,20}) \S+ HTTP\/1\.[01]\r?\n/g;

/**
 * The 501 for a request whose method Node's parser does not know (valid HTTP: RFC 9110 §9.1), first
 * on its connection or after another; undefined for other bytes (a body longer than its
 * Content-Length, binary).
 */
function unknownMethodAnswer(error: { code?: string; rawPacket?: unknown }): [number, string] | undefined {
  if (error.code !== 'HPE_INVALID_METHOD' || !Buffer.isBuffer(error.rawPacket)) return undefined;
  for (const [, method] of error.rawPacket.subarray(0, 64 * 1024).toString('latin1').matchAll(REQUEST_LINE)) {
    if (METHODS.includes(method!)) continue;
    const cased = METHODS.includes(method!.toUpperCase()) ? ` (methods are case-sensitive: ${method!.toUpperCase()})` : '';
    return [501, `The method ${method} is not one this server knows${cased}; its routes take GET, HEAD, POST, DELETE and OPTIONS (see GET /docs).`];
  }
  return undefined;
}

/**
 * Fastify's `clientErrorHandler`: bytes that are not an HTTP request Node can parse (a bad header
 * line, headers over the size limit, a request that never finished arriving).
 *
 * Requests that arrived in full before the bad bytes (pipelined, or a body longer than its
 * Content-Length) are answered first, then the problem, then the connection closes: a job such a
 * request stored was lost from its client's view, which then saw only the 400 and sent it again.
 */
export const clientErrorAnswer = (crossOrigin: CrossOriginPolicy, count: RawAnswerCounter) => (error: Error & { code?: string; reason?: string; rawPacket?: unknown; idleMs?: number }, socket: Duplex): void => {
  if (error.code === 'ECONNRESET' || socket.destroyed || answering.has(socket)) return;
  answering.add(socket);
  const [status, detail] =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'The request did not arrive in full within REQUEST_TIMEOUT (headers within 60 s at most). Send it again; on a link too slow for its size, the API must allow more (REQUEST_TIMEOUT).']
      : error.code === BODY_STALLED
        ? [408, `The body stopped arriving: nothing came for ${Math.round((error.idleMs ?? 0) / 1000)} s while this upload or batch held its place in the API's BODY_BUDGET, which other uploads and batches wait for. Nothing was stored; send it again.`]
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'The request headers are larger than the server takes (16 KiB in all). Send fewer or shorter headers.']
        : unknownMethodAnswer(error) ?? [400, invalidHttpDetail(error.code ?? error.message, error.reason, unanswered.has(socket))];
  const answers = [...(unanswered.get(socket) ?? [])];
  // A page on an allowed origin reads the problem only with the CORS headers: the Origin of the
  // request cut short, or else of the bytes Node could not read.
  const origin = answers.find((response) => !response.req.complete)?.req.headers.origin ?? originIn(error.rawPacket);
  const cors = Object.entries(crossOrigin.answerHeaders(origin))
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  // A request that has not arrived in full (its body timed out or broke) gets no other answer; as
  // Node does, the problem is written only if no answer has begun on the connection.
  if (status === 408 || answers.some((response) => !response.req.complete)) {
    // Not when the request that timed out was answered already (its body still coming): a second
    // answer would be read as the answer to the client's next request.
    const answeredAlready = answers.length === 0 && answeredEarly.has(socket);
    if (!answeredAlready && answers.every((response) => !response.headersSent)) {
      writeProblem(socket, status, detail, cors);
      count(answers.find((response) => !response.req.complete)?.req.method ?? 'unknown', status);
    }
    socket.destroy(error);
    return;
  }
  socket.pause();
  const answer = () => {
    writeProblem(socket, status, detail, cors);
    count('unknown', status);
    socket.destroy(error);
  };
  let left = answers.length;
  if (left === 0) return answer();
  for (const response of answers) {
    response.once('close', () => {
      if (--left === 0) answer();
    });
  }
};

/** The Origin header in the bytes of a request Node could not read, as far as they hold one. */
function originIn(packet: unknown): string | undefined {
  if (!Buffer.isBuffer(packet)) return undefined;
  return /\r\norigin:[ \t]*([^\r\n]*?)[ \t]*\r\n/i.exec(packet.toString('latin1'))?.[1];
}

/**
 * The server's `checkExpectation`: an Expect header other than 100-continue, which Node would
 * answer with a bare 417 and no body. The body that may follow is not read: the connection closes.
 */
export const expectationAnswer = (crossOrigin: CrossOriginPolicy, count: RawAnswerCounter) => (request: IncomingMessage, response: ServerResponse): void => {
  const expectation = String(request.headers.expect).slice(0, 100);
  response.shouldKeepAlive = false;
  const body = JSON.stringify({
    type: 'about:blank',
    title: STATUS_CODES[417],
    status: 417,
    detail: `Expect: ${JSON.stringify(expectation)} is not an expectation this server meets; the only one it takes is 100-continue (RFC 9110). Send the request without it.`,
  });
  response.writeHead(417, { 'content-type': 'application/problem+json', 'content-length': Buffer.byteLength(body), ...crossOrigin.answerHeaders(request.headers.origin) }).end(body);
  count(request.method ?? 'unknown', 417);
};

/**
 * The server's `connect`: a CONNECT request, which asks for a tunnel (a proxy's job), and which
 * Node answers by closing the connection without a word unless something listens for it.
 */
export const connectAnswer = (count: RawAnswerCounter) => (_request: IncomingMessage, socket: Duplex): void => {
  // An empty Allow: the target of a CONNECT (host:port) is no resource here, so takes no method (RFC 9110).
  writeProblem(socket, 405, 'CONNECT asks for a tunnel, and this server is not a proxy. Send requests for its routes (GET /docs lists them) straight to it.', 'Allow: \r\n');
  count('CONNECT', 405);
  socket.end();
};
