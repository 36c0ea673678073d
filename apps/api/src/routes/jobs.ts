import type { FastifySchemaCompiler } from 'fastify';
import { validatorCompiler, type FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { logCreated } from '../job-created-log.js';
import { jobPath } from '../job-path.js';
import { ProblemError } from '../problems/problem-error.js';
import { refuseIdempotencyKey } from '../problems/unkeyed-route.js';
import { checkedBatchSchema, createBatchSchema, createJobSchema, idempotencyHeadersSchema, jobBodyParser, jobIdParamsSchema, pathSegment, tryParseBatch } from '../schemas/create-job.js';
import { acceptedBatchSchema, acceptedJobSchema, jobViewSchema } from '../schemas/job-view.js';
import { emptyBody } from '../schemas/empty-body.js';
import { problemResponses } from '../schemas/problem.js';
import { onlyParameters } from '../schemas/query-parameters.js';
import type { BodyBudget } from '../services/body-budget.js';
import { jobNotFound } from '../services/job-service.js';

/**
 * For the two submit routes: their answers are IDs and statuses this API has just made, so they
 * are written with JSON.stringify without being checked against the response schema first (a zod
 * parse per answer, per job in a batch). The schemas still document the answers.
 */
const plainJson = () => (data: unknown) => JSON.stringify(data);

/**
 * For the two submit routes: a body is parsed by `tryParse` (by the fields it sets, see
 * PresentKeysParser), and by its whole schema (or `check`, which parses as it does) only when
 * that gives up, so every refusal is the whole schema's. Headers are validated as on any route.
 */
const submitValidator =
  <RouteSchema>(tryParse: (body: unknown) => unknown, check?: z.ZodType): FastifySchemaCompiler<RouteSchema> =>
  (route) => {
    // Fastify hands the compiler one part's schema (here a zod schema) typed as the route's.
    const compile = (schema: unknown) => validatorCompiler({ ...route, schema } as unknown as Parameters<typeof validatorCompiler>[0]);
    if (route.httpPart !== 'body') return compile(route.schema);
    const whole = compile(check ?? route.schema);
    return (body) => {
      const value = tryParse(body);
      return value === undefined ? whole(body) : { value };
    };
  };

/**
 * /jobs/batch is a path of its own, taking POST only; the router hands its other methods to
 * /jobs/:id, which would answer that no job has the ID "batch" (no job ID is: IDs are
 * `<queue>:<entry id>`). They get the 405 any other route gives a method it does not take.
 */
function refuseBatchPath(id: string, method: string): void {
  if (id === 'batch') throw new ProblemError('method-not-allowed', `/jobs/batch does not take ${method}; it takes POST.`, {}, { allow: 'POST' });
}

const jobsRoutes: FastifyPluginAsyncZod<{ maxBatchBytes: number; bodyBudget: BodyBudget }> = async (app, { maxBatchBytes, bodyBudget }) => {
  app.post(
    '/jobs',
    {
      schema: {
        tags: ['jobs'],
        operationId: 'createJob',
        summary: 'Submit an inference job',
        description: 'Stores the job and answers at once. 202 for a new job; 200 when an Idempotency-Key matched an earlier request (the same job is returned).',
        headers: idempotencyHeadersSchema,
        body: createJobSchema,
        response: { 202: acceptedJobSchema, 200: acceptedJobSchema, ...problemResponses(400, 413, 415, 422, 503) },
      },
      validatorCompiler: submitValidator((body) => jobBodyParser.tryParse(body)),
      serializerCompiler: plainJson,
    },
    async (request, reply) => {
      const submitted = await app.jobs.submitInference(request.body, request.headers['idempotency-key']);
      logCreated(request.log, [submitted]);
      return reply
        .code(submitted.created ? 202 : 200)
        .header('location', jobPath(submitted.jobId))
        .send({ job_id: submitted.jobId, status: submitted.status });
    },
  );

  app.post(
    '/jobs/batch',
    {
      bodyLimit: maxBatchBytes,
      onRequest: bodyBudget.hook(maxBatchBytes),
      schema: {
        tags: ['jobs'],
        operationId: 'createJobBatch',
        summary: 'Submit up to 1,000 inference jobs for one queue at once',
        description:
          'Each item is what POST /jobs takes, plus an optional `idempotency_key` (the route takes no Idempotency-Key header: a 400). All are stored in one step, or none (a bad item, a reused key or a full queue refuses the whole batch). 202 with the jobs in request order.',
        body: createBatchSchema,
        response: { 202: acceptedBatchSchema, ...problemResponses(400, 413, 415, 422, 503) },
      },
      validatorCompiler: submitValidator(tryParseBatch, checkedBatchSchema),
      serializerCompiler: plainJson,
    },
    async (request, reply) => {
      // Ignoring the header would store the batch again on every retry of it.
      refuseIdempotencyKey(request, 'give each job its own `idempotency_key` in the body, and a retried batch stores each of those jobs once.');
      const submitted = await app.jobs.submitBatch(request.body.jobs);
      logCreated(request.log, submitted);
      return reply.code(202).send({ jobs: submitted.map(({ jobId, status, created }) => ({ job_id: jobId, status, created })) });
    },
  );

  app.get(
    '/jobs/:id',
    {
      schema: {
        tags: ['jobs'],
        operationId: 'getJob',
        summary: 'Read a job: status, attempts, result, error, timestamps',
        params: jobIdParamsSchema,
        response: { 200: jobViewSchema, ...problemResponses(404, 405, 503) },
      },
    },
    async (request) => {
      refuseBatchPath(request.params.id, request.method);
      const job = await app.jobs.find(request.params.id);
      if (!job) throw jobNotFound(request.params.id);
      return job;
    },
  );

  app.get(
    '/jobs/:id/stages/:stage/output',
    {
      schema: {
        tags: ['jobs'],
        operationId: 'getStageOutput',
        summary: "A finished stage's whole output",
        description: 'GET /jobs/:id shows a preview of large outputs (output_truncated: true); this returns the output whole, as JSON.',
        params: jobIdParamsSchema.extend({ stage: pathSegment.describe('stage name, e.g. extract (a job\'s stages are listed in its `stages`)') }),
        response: { 200: z.unknown().describe('the output, as the stage returned it'), ...problemResponses(404, 503) },
      },
    },
    async (request, reply) => {
      // Stored as JSON text: sent as it is, not parsed and serialized again.
      const output = await app.jobs.stageOutput(request.params.id, request.params.stage);
      return reply.type('application/json; charset=utf-8').send(output);
    },
  );

  app.delete(
    '/jobs/:id',
    {
      schema: {
        tags: ['jobs'],
        operationId: 'cancelJob',
        summary: 'Cancel a job that has not finished',
        description:
          'A queued, delayed or retrying job never runs. An active job\'s processor gets its AbortSignal fired and the job ends `cancelled`. A finished job (completed, dead, cancelled) is a 409. It takes no options: a query parameter or a body field (a reason) is a 400, not ignored.',
        params: jobIdParamsSchema,
        querystring: onlyParameters({}),
        body: emptyBody(),
        response: { 200: acceptedJobSchema, ...problemResponses(400, 404, 405, 409, 503) },
      },
    },
    async (request) => {
      refuseBatchPath(request.params.id, request.method);
      await app.jobs.cancel(request.params.id);
      request.log.info({ job_id: request.params.id }, 'job cancelled');
      return { job_id: request.params.id, status: 'cancelled' as const };
    },
  );

  app.post(
    '/jobs/:id/retry',
    {
      schema: {
        tags: ['jobs'],
        operationId: 'retryJob',
        summary: 'Retry a dead-lettered job',
        description: 'Queues the job again on the stage where it died, with the same ID and a fresh count of attempts. Its error history is kept. It takes no options: a query parameter or a body field is a 400, not ignored.',
        params: jobIdParamsSchema,
        querystring: onlyParameters({}),
        body: emptyBody(),
        response: { 202: acceptedJobSchema, ...problemResponses(400, 404, 409, 503) },
      },
    },
    async (request, reply) => {
      refuseIdempotencyKey(request, 'a retry acts on the job as it is when it arrives: one no longer dead is a 409, but one that died again meanwhile runs again. Before sending it again, GET /jobs/:id.');
      await app.jobs.retry(request.params.id);
      request.log.info({ job_id: request.params.id }, 'dead job queued again');
      return reply.code(202).header('location', jobPath(request.params.id)).send({ job_id: request.params.id, status: 'queued' });
    },
  );
};

export default jobsRoutes;
