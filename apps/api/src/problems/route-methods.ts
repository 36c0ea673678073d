import FindMyWay from 'find-my-way';

type HTTPMethod = FindMyWay.HTTPMethod;

/**
 * Which methods the API's routes take at a path, for the 405 answer: a request whose path is a
 * route but whose method is not (PATCH /jobs, PUT /jobs/:id) is told which methods are, in an
 * `Allow` header (RFC 9110), instead of a 404 that suggests the path is wrong. The routes are
 * the app's own, recorded as they are added; only requests that found no route look here.
 */
export class RouteMethods {
  readonly #router: FindMyWay.Instance<FindMyWay.HTTPVersion.V1>;
  readonly #methods = new Set<HTTPMethod>();

  constructor(options: FindMyWay.Config<FindMyWay.HTTPVersion.V1>) {
    this.#router = FindMyWay(options);
  }

  add(methods: string | string[], url: string): void {
    // A catch-all (CORS answers OPTIONS at '*') matches every path, so it says nothing of one.
    if (url === '*' || url === '/*') return;
    for (const method of ([] as string[]).concat(methods) as HTTPMethod[]) {
      // A method may be added to one path more than once (constraints); once is enough here.
      if (this.#router.hasRoute(method, url)) continue;
      this.#router.on(method, url, () => undefined);
      this.#methods.add(method);
    }
  }

  /**
   * The methods taken at `url` (a request's path, query string allowed), sorted; none when no
   * route matches. A path that is a route of its own (`/jobs/batch`) is that route's alone,
   * though a parametric route (`/jobs/:id`) matches it for other methods: those refuse it.
   */
  allowedAt(url: string): HTTPMethod[] {
    const found = [...this.#methods].flatMap((method) => {
      const route = this.#router.find(method, url);
      return route ? [{ method, exact: Object.keys(route.params).length === 0 }] : [];
    });
    const exact = found.filter((route) => route.exact);
    return (exact.length > 0 ? exact : found).map((route) => route.method).sort();
  }
}
