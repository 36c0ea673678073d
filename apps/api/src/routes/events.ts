import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ProblemError } from '../problems/problem-error.js';
import { jobIdParamsSchema } from '../schemas/create-job.js';
import { problemResponses } from '../schemas/problem.js';
import { RESYNC, TERMINAL_EVENTS, type JobEvent } from '../services/event-hub.js';
import { SseStream } from '../services/sse-stream.js';

const TERMINAL_STATUSES = new Set(['completed', 'dead', 'cancelled']);

const eventsRoutes: FastifyPluginAsyncZod<{ heartbeatMs: number }> = async (app, { heartbeatMs }) => {
  app.get(
    '/jobs/:id/events',
    {
      schema: {
        tags: ['events'],
        operationId: 'streamJobEvents',
        summary: "A job's events as Server-Sent Events",
        description:
          'First a `state` event with the job as GET /jobs/:id shows it (so a client that connects late misses nothing), then one event per transition (queued, active, progress, stage-completed, failed, retrying, completed, dead, cancelled) with its JSON, in order. If the API loses its Redis subscription for a moment, another `state` event follows its return (events between are not replayed). The stream ends after the terminal event (completed, dead, cancelled). Comment lines every SSE_HEARTBEAT keep proxies from closing it.',
        params: jobIdParamsSchema,
        response: { 200: z.string().describe('text/event-stream'), ...problemResponses(404, 503) },
      },
    },
    async (request, reply) => {
      const jobId = request.params.id;
      // Listen before reading the state, so no event falls between the two.
      const buffered: JobEvent[] = [];
      let forward: ((event: JobEvent) => void) | undefined;
      const stop = await app.events.onJob(jobId, (event) => (forward ? forward(event) : buffered.push(event)));
      let job;
      try {
        job = await app.jobs.find(jobId);
      } catch (error) {
        stop();
        throw error;
      }
      if (!job) {
        stop();
        throw new ProblemError('job-not-found', `No job has the ID "${jobId}".`);
      }
      const stream = new SseStream(reply, heartbeatMs);
      app.streams.add(stream);
      stream.onClose(() => {
        stop();
        app.streams.delete(stream);
      });
      stream.send('state', job);
      if (TERMINAL_STATUSES.has(job.status)) return stream.close();
      forward = (event) => {
        if (event.event === RESYNC) return void resend();
        stream.send(event.event, event);
        if (TERMINAL_EVENTS.has(event.event)) stream.close();
      };
      // Events published while the API's subscription was down are lost: send the state again.
      const resend = async () => {
        const now = await app.jobs.find(jobId).catch(() => undefined);
        if (!now || stream.closed) return;
        stream.send('state', now);
        if (TERMINAL_STATUSES.has(now.status)) stream.close();
      };
      for (const event of buffered.splice(0)) forward(event);
    },
  );

  app.get(
    '/events',
    {
      schema: {
        tags: ['events'],
        operationId: 'streamQueueEvents',
        summary: "Every job event of a queue as Server-Sent Events (for dashboards)",
        description:
          'First a `subscribed` event, then every event of the queue as it is published. A `resync` event says the API lost its Redis subscription for a moment and events between may be missing: read GET /queues/{name} again.',
        querystring: z.object({ queue: z.string().min(1).describe('queue name, e.g. inference') }),
        response: { 200: z.string().describe('text/event-stream'), ...problemResponses(400, 404) },
      },
    },
    async (request, reply) => {
      app.jobs.pipelineOf(request.query.queue);
      // Subscribed before the stream opens: a Redis that does not answer is still a 503, not a dead stream.
      let stream: SseStream | undefined;
      // A `resync` event here says events may have been missed while the subscription was down.
      const stop = await app.events.onQueue(request.query.queue, (event) => stream?.send(event.event, event));
      stream = new SseStream(reply, heartbeatMs);
      app.streams.add(stream);
      stream.onClose(() => {
        stop();
        app.streams.delete(stream);
      });
      stream.send('subscribed', { queue: request.query.queue });
    },
  );
};

export default eventsRoutes;
