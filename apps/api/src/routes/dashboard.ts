import type { FastifyPluginAsync } from 'fastify';
import { dashboardHtml } from '../dashboard/page.js';
import { DASHBOARD_SCRIPT } from '../dashboard/script.js';

/**
 * Scripts from this origin only (the page's own, beside it), data from this origin only (the
 * queues and the event streams), inline styles, nothing framed or posted anywhere.
 */
const CONTENT_SECURITY_POLICY = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * The dashboard at `/dashboard` (and `/` leads there): a page for people, not part of the API's
 * reference. `adminEnabled`: whether the API has ADMIN_TOKEN; without it the page turns pause and
 * resume off and says why before anyone clicks.
 */
const dashboardRoutes: FastifyPluginAsync<{ adminEnabled: boolean }> = async (app, { adminEnabled }) => {
  const html = dashboardHtml(adminEnabled);
  app.get('/', { schema: { hide: true } }, async (_request, reply) => reply.redirect('/dashboard'));
  app.get('/dashboard', { schema: { hide: true } }, async (_request, reply) =>
    reply
      .type('text/html; charset=utf-8')
      .header('content-security-policy', CONTENT_SECURITY_POLICY)
      .header('x-content-type-options', 'nosniff')
      .header('cache-control', 'no-cache')
      .send(html),
  );
  app.get('/dashboard/app.js', { schema: { hide: true } }, async (_request, reply) =>
    reply.type('text/javascript; charset=utf-8').header('x-content-type-options', 'nosniff').header('cache-control', 'no-cache').send(DASHBOARD_SCRIPT),
  );
};

export default dashboardRoutes;
