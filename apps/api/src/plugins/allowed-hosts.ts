import fp from 'fastify-plugin';
import { isIP } from 'node:net';
import { ProblemError } from '../problems/problem-error.js';

/**
 * With ALLOWED_HOSTS set, a request whose Host names another host is refused (421) before any
 * route runs. A browser page on a name an attacker points at the API's address (DNS rebinding:
 * `evil.example` resolving to 127.0.0.1) is the API's own origin to that browser, so neither CORS
 * nor the cross-site write check can stop it reading jobs or submitting them; its Host can.
 * IP addresses and localhost are always answered: no other site's page can be served from them.
 */
export default fp<{ hosts: readonly string[] }>(
  async (app, { hosts }) => {
    if (hosts.length === 0) return;
    const names = new Set(hosts.filter((host) => !host.startsWith('.')));
    const suffixes = hosts.filter((host) => host.startsWith('.'));
    const allowed = (hostname: string) =>
      hostname === 'localhost' || isIP(hostname.replace(/^\[(.*)\]$/, '$1')) !== 0 || names.has(hostname) || suffixes.some((suffix) => hostname.endsWith(suffix));

    // A callback hook, not an async one: it runs on every request.
    app.addHook('onRequest', (request, _reply, done) => {
      // A fully qualified name may end in a dot (`api.example.com.`): the same host.
      const hostname = request.hostname.toLowerCase().replace(/\.$/, '');
      // No host name (HTTP/1.0 without Host, or with an empty one; HTTP/1.1 has had its 400) is no browser's request.
      if (hostname === '' || allowed(hostname)) return done();
      done(
        new ProblemError(
          'host-not-allowed',
          `This API does not answer to the host name ${JSON.stringify(hostname.slice(0, 255))} (ALLOWED_HOSTS). Call it by a name ALLOWED_HOSTS lists, by its IP address or as localhost.`,
        ),
      );
    });
  },
  { name: 'allowed-hosts' },
);
