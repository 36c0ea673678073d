import type { IncomingMessage, Server, ServerResponse } from 'node:http';

/**
 * The server's `checkContinue`: a request sent with `Expect: 100-continue` (curl sends it with
 * an upload over 1 MiB), whose client waits for a 100 Continue before it sends the body. Node
 * sends the 100 at once unless something listens here, before any route has seen the headers:
 * an upload the route refuses on its headers (a 413 for its Content-Length, a 401, a 503 busy)
 * was told to go on, and 20 MiB were sent for nothing. Here every request goes on to the routes,
 * and the 100 is sent when a reader starts on the body; one answered without reading it gets
 * only its answer, after which Node closes the connection (the client may send the body anyway).
 */
export const continueWhenRead =
  (server: Server) =>
  (request: IncomingMessage, response: ServerResponse): void => {
    // 'resume' is emitted when the body starts to flow: a 'data' listener (Fastify's JSON
    // parser) or a pipe (the form parser). Node also resumes a body it discards after the
    // answer: no 100 then, it would follow the answer on the wire.
    request.once('resume', () => {
      if (!response.headersSent) response.writeContinue();
    });
    server.emit('request', request, response);
  };
