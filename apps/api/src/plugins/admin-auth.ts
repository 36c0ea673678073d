import type { ApiConfig } from '@conveyor/shared';
import type { FastifyInstance, onRequestAsyncHookHandler, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';
import { createHash, timingSafeEqual } from 'node:crypto';
import { ProblemError } from '../problems/problem-error.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** onRequest hook of admin routes (before the body is read): 404 when ADMIN_TOKEN is unset, 401 without the right bearer token. */
    requireAdmin: onRequestAsyncHookHandler;
  }
}

const digest = (text: string) => createHash('sha256').update(text).digest();

/** Whether a route is an admin route: one guarded by `requireAdmin` (for the 405 lookup and the OpenAPI document). */
export function isAdminRoute(app: FastifyInstance, route: Pick<RouteOptions, 'onRequest'>): boolean {
  // Routes added before this plugin (the documentation's) cannot be admin routes; without the
  // check, their missing onRequest would match the missing decorator.
  return app.hasDecorator('requireAdmin') && [route.onRequest].flat().includes(app.requireAdmin);
}

/**
 * Until API keys exist, admin endpoints are there only when ADMIN_TOKEN is set, and answer only
 * to `Authorization: Bearer <token>`. Without the setting they do not exist: 404, never open.
 */
export default fp(
  async (app, { config }: { config: ApiConfig }) => {
    const expected = config.ADMIN_TOKEN === undefined ? undefined : digest(config.ADMIN_TOKEN);
    app.decorate('requireAdmin', async (request) => {
      if (!expected) {
        // Still a 404 (nothing is there to call), but one that says why: GET /docs lists the route.
        throw new ProblemError('not-found', `${request.method} ${request.url.split('?')[0]} is an admin endpoint, and admin endpoints are off: this API was started without ADMIN_TOKEN. Set ADMIN_TOKEN (16 characters or more) and restart the API to use them.`);
      }
      const { authorization } = request.headers;
      // The scheme is case-insensitive and may be followed by several spaces (RFC 9110 §11.4).
      const given = /^Bearer +(\S.*)$/i.exec(authorization ?? '')?.[1];
      if (given !== undefined && timingSafeEqual(digest(given), expected)) return;
      // RFC 6750 §3.1: no error code for a request without a bearer token (none, or another
      // scheme), invalid_request for a bearer without its token, invalid_token for a wrong one.
      const [problem, challenge] =
        authorization === undefined || authorization.trim() === ''
          ? ['This is an admin endpoint: send Authorization: Bearer <ADMIN_TOKEN>.', 'Bearer realm="conveyor-admin"']
          : /^Bearer\s*$/i.test(authorization)
            ? ['The Authorization header holds no token after Bearer: send Authorization: Bearer <ADMIN_TOKEN>.', 'Bearer realm="conveyor-admin", error="invalid_request"']
            : given === undefined
              ? ['This is an admin endpoint, and its Authorization header is not a bearer token: send Authorization: Bearer <ADMIN_TOKEN>.', 'Bearer realm="conveyor-admin"']
              : ['The bearer token sent is not this API\'s ADMIN_TOKEN: send Authorization: Bearer <ADMIN_TOKEN>, with the value the API was started with.', 'Bearer realm="conveyor-admin", error="invalid_token"'];
      throw new ProblemError('unauthorized', problem, {}, { 'www-authenticate': challenge });
    });
  },
  { name: 'admin-auth' },
);
