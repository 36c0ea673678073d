import cors from '@fastify/cors';
import fp from 'fastify-plugin';

/**
 * Cross-origin calls from browser frontends, for the origins in CORS_ORIGINS (`*` for any).
 * Without the setting no CORS header is sent and browsers allow same-origin pages only.
 * Clients authenticate with a bearer token, never cookies, so credentials are not allowed.
 * A frontend can read the headers that matter to it: Location of a new job, Retry-After of a 503.
 */
export default fp(
  async (app, { origins }: { origins: string[] }) => {
    if (origins.length === 0) return;
    await app.register(cors, {
      origin: origins.includes('*') ? '*' : origins,
      methods: ['GET', 'HEAD', 'POST', 'DELETE'],
      allowedHeaders: ['content-type', 'idempotency-key', 'authorization', 'x-request-id', 'last-event-id'],
      exposedHeaders: ['location', 'retry-after'],
      maxAge: 600,
    });
  },
  { name: 'cors' },
);
