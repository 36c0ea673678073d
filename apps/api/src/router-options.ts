/**
 * How paths are matched to routes, shared by Fastify's router and the 405 lookup so the two
 * agree. A trailing or doubled slash (`POST /jobs/`, `//jobs/:id`, which clients that join URLs
 * make) finds the route it means; a path parameter over 100 characters (Fastify's default) gets
 * a 414 problem, since no job ID, queue or stage name is that long.
 */
export const ROUTER_OPTIONS = {
  maxParamLength: 100,
  ignoreTrailingSlash: true,
  ignoreDuplicateSlashes: true,
} as const;
