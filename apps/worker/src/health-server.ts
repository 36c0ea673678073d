import { createServer, type Server } from 'node:http';
import { explainListenError } from '@conveyor/shared';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';

/**
 * Bytes that are no HTTP request Node can parse get a problem, as every other answer here, then
 * the connection closes (Node's own answer is a bare 400 without a body).
 */
function answerBadBytes(error: Error & { code?: string }, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || !socket.writable) return void socket.destroy();
  const [status, title, detail] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', 'The request headers are too large.']
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', 'The request did not arrive in time.']
        : [400, 'Bad Request', `The request is not valid HTTP (${error.code ?? error.message}). This listener serves GET /healthz, /readyz and /metrics.`];
  const body = JSON.stringify({ type: 'about:blank', title, status, detail });
  socket.end(`HTTP/1.1 ${status} ${title}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

export interface HealthSource {
  /** The process is up and its loop is not wedged. */
  live(): boolean;
  /** It can take jobs: Redis is reachable and it is running. */
  ready(): boolean;
  describe(): Record<string, unknown>;
  /** Prometheus text exposition. */
  metrics(): Promise<{ contentType: string; body: string }>;
}

/** A small HTTP listener for Kubernetes probes, Docker's HEALTHCHECK and Prometheus: `/healthz`, `/readyz`, `/metrics`. */
export async function startHealthServer(source: HealthSource, port: number, host: string): Promise<Server> {
  // A request without Host is answered as any other (Node would refuse it with a bare 400).
  const server = createServer({ requireHostHeader: false }, (request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    const reply = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    const problem = (status: number, title: string, detail: string, headers: Record<string, string> = {}) => {
      response.writeHead(status, { 'content-type': 'application/problem+json', ...headers }).end(JSON.stringify({ type: 'about:blank', title, status, detail }));
    };
    const known = path === '/healthz' || path === '/readyz' || path === '/metrics';
    // Probes and scrapes read; anything else sent here is a mistake to say, not a 200.
    if (known && request.method !== 'GET' && request.method !== 'HEAD') {
      return problem(405, 'Method Not Allowed', `${path} takes GET and HEAD, not ${request.method}.`, { allow: 'GET, HEAD' });
    }
    if (path === '/healthz') return reply(source.live() ? 200 : 503, { status: source.live() ? 'ok' : 'down', ...source.describe() });
    if (path === '/readyz') return reply(source.ready() ? 200 : 503, { status: source.ready() ? 'ready' : 'not ready', ...source.describe() });
    if (path === '/metrics') {
      source.metrics().then(
        ({ contentType, body }) => response.writeHead(200, { 'content-type': contentType }).end(body),
        (error: Error) => problem(500, 'Metrics failed', error.message),
      );
      return;
    }
    problem(404, 'Not Found', 'This listener serves /healthz, /readyz and /metrics.');
  });
  server.on('clientError', answerBadBytes);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        explainListenError(error, {
          what: "the worker's health listener (/healthz, /readyz, /metrics)",
          port,
          host,
          portSetting: 'WORKER_PORT',
          hostSetting: 'WORKER_HOST',
          otherPorts: 'to 0 for any free one, or to -1 to run without it (then nothing answers probes or Prometheus on this worker)',
        }),
      ),
    );
    server.listen(port, host, () => resolve());
  });
  return server;
}

export function portOf(server: Server): number {
  return (server.address() as AddressInfo).port;
}
