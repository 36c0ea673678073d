import type { FastifyRequest } from 'fastify';

/**
 * What such a page may read of an answer: Location of a new job, Retry-After of a 503, Allow of a
 * 405, WWW-Authenticate of a 401 (which token error it was), Accept-Encoding of a 415 (the body
 * codings taken).
 */
export const EXPOSED_HEADERS = ['location', 'retry-after', 'allow', 'www-authenticate', 'accept-encoding'];

/** Methods that only read: a browser may send them from any page, as it may load any URL. */
const READING = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Which pages on other origins may call the API: the origins in CORS_ORIGINS, or any with `*`.
 * The CORS plugin answers them; this says who they are, for the answers Fastify gives before any
 * hook runs (a path it cannot route) and for the check that refuses cross-site writes.
 */
export class CrossOriginPolicy {
  /** Whether any origin may (`*`). */
  readonly any: boolean;

  constructor(readonly origins: readonly string[]) {
    this.any = origins.includes('*');
  }

  allows(origin: string): boolean {
    return this.any || this.origins.includes(origin);
  }

  /** The CORS headers of an answer (not a preflight) to a request from `origin`: none for an origin not allowed. */
  answerHeaders(origin: string | undefined): Record<string, string> {
    if (this.origins.length === 0) return {};
    const vary: Record<string, string> = this.any ? {} : { vary: 'Origin' };
    if (origin === undefined || !this.allows(origin)) return vary;
    return { ...vary, 'access-control-allow-origin': this.any ? '*' : origin, 'access-control-expose-headers': EXPOSED_HEADERS.join(', ') };
  }

  /**
   * The origin of a browser request that changes something from a page this API does not know,
   * or undefined when the request may go on. Browsers send a form upload or an empty POST from any
   * page without a preflight: CORS only keeps the answer from that page, the work would be done.
   * A request without Origin (curl, servers, Postman) or from the API's own pages (the dashboard)
   * goes on, and so does any request that only reads, except a preflight (see isPreflight).
   */
  refusedOrigin(request: FastifyRequest): string | undefined {
    const origin = request.headers.origin;
    if (origin === undefined || this.allows(origin)) return undefined;
    if (READING.has(request.method) && !isPreflight(request)) return undefined;
    return isOwnOrigin(origin, request.host) ? undefined : origin;
  }
}

/**
 * Whether `request` is a CORS preflight: the OPTIONS a browser sends, with Origin and
 * Access-Control-Request-Method, before a request a page may not send without asking. One from an
 * origin not allowed is refused like the write it asks about, so the developer who reads it in the
 * browser's devtools is told about CORS_ORIGINS, not that the route does not take OPTIONS.
 */
export function isPreflight(request: FastifyRequest): boolean {
  return request.method === 'OPTIONS' && request.headers.origin !== undefined && request.headers['access-control-request-method'] !== undefined;
}

/** Whether `origin` is the API's own: the host the request was sent to (default ports aside). */
function isOwnOrigin(origin: string, host: string): boolean {
  try {
    const page = new URL(origin);
    return page.host === new URL(`${page.protocol}//${host}`).host;
  } catch {
    // `null` (a sandboxed or file: page), or not a URL at all.
    return false;
  }
}
