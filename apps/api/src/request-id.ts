import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** What a client-sent `X-Request-Id` may be: short, and safe in a log line and a `urn:` URI. */
const CLIENT_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The request's ID, in logs and in a problem's `instance`: the client's `X-Request-Id` when it
 * sends a usable one (so its own traces line up with ours), a random UUID otherwise. Any other
 * value (too long, spaces, markup) is ignored rather than refused: the ID only labels the request.
 */
export function requestId(request: IncomingMessage): string {
  const sent = request.headers['x-request-id'];
  return typeof sent === 'string' && CLIENT_ID.test(sent) ? sent : randomUUID();
}
