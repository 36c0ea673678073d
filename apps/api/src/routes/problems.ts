import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { PROBLEMS, problemType, type ProblemSlug } from '../problems/catalogue.js';
import { ProblemError } from '../problems/problem-error.js';
import { pathSegment } from '../schemas/create-job.js';
import { problemResponses } from '../schemas/problem.js';

const explanation = z.object({ type: z.string(), title: z.string(), status: z.number().int(), help: z.string() });

/** `GET /problems/<slug>`: what each problem `type` means and what to do about it. */
const problemsRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/problems/:slug',
    {
      schema: {
        tags: ['problems'],
        operationId: 'getProblem',
        summary: 'Explain a problem type',
        params: z.object({ slug: pathSegment.describe("the last part of a problem's `type`, e.g. invalid-request for /problems/invalid-request") }),
        response: { 200: explanation, ...problemResponses(404) },
      },
    },
    async (request) => {
      const slug = request.params.slug as ProblemSlug;
      if (!Object.hasOwn(PROBLEMS, slug)) {
        throw new ProblemError('not-found', `There is no problem type "${request.params.slug}". Known: ${Object.keys(PROBLEMS).join(', ')}.`);
      }
      const { status, title, help } = PROBLEMS[slug];
      return { type: problemType(slug), title, status, help };
    },
  );
};

export default problemsRoutes;
