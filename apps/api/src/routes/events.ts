import { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ProblemError } from '../problems/problem-error.js';
import { jobIdParamsSchema } from '../schemas/create-job.js';
import type { JobView } from '../schemas/job-view.js';
import { problemResponses } from '../schemas/problem.js';
import { RESYNC, TERMINAL_EVENTS, type JobEvent, type QueueResync } from '../services/event-hub.js';
import { jobNotFound } from '../services/job-service.js';
import { endedBefore, SseStream } from '../services/sse-stream.js';

const TERMINAL_STATUSES = new Set(['completed', 'dead', 'cancelled']);

/**
 * The answer to HEAD: what GET would answer, without its body. Not a stream: a HEAD answer has no
 * body to end, so a stream opened for one would never end, and would hold a MAX_EVENT_STREAMS place.
 * Sent as an empty Readable, as the GET's body has no length: HEAD answers with none told, where
 * no body at all would be told as `Content-Length: 0`.
 */
function streamHeaders(reply: FastifyReply): FastifyReply {
  return reply.code(200).header('cache-control', 'no-cache, no-transform').type('text/event-stream; charset=utf-8').send(Readable.from([]));
}

/**
 * The 204 that tells an EventSource the stream is over for good. No body, sent as an empty
 * Readable too: to HEAD, a null body was told with its length and type, which a 204 has none of.
 */
function noMoreEvents(reply: FastifyReply): FastifyReply {
  return reply.code(204).send(Readable.from([]));
}

const eventsRoutes: FastifyPluginAsyncZod<{ heartbeatMs: number }> = async (app, { heartbeatMs }) => {
  /**
   * An event of a queue as its streams send it, with `queue`. The event hub tells every stream of
   * the queue the same event in turn, so the last one written is kept: it is written as JSON once,
   * not once per stream (500 dashboards, each writing every event of a burst, kept the API busy
   * for a minute and a half). Undefined when it cannot be written.
   */
  let lastQueueEvent: { event: JobEvent | QueueResync; queue: string; json: string | undefined } | undefined;
  const queueEventJson = (event: JobEvent | QueueResync, queue: string): string | undefined => {
    if (lastQueueEvent?.event !== event || lastQueueEvent.queue !== queue) {
      let json: string | undefined;
      try {
        json = JSON.stringify({ ...event, queue });
      } catch {
        json = undefined;
      }
      lastQueueEvent = { event, queue, json };
    }
    return lastQueueEvent.json;
  };

  /** Streams the job's state, then its events until it ends; the 404 problem for a job that does not exist. */
  const followJob = async (jobId: string, reply: FastifyReply): Promise<SseStream> => {
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
      throw jobNotFound(jobId);
    }
    const stream = new SseStream(reply, heartbeatMs);
    stream.onClose(stop);
    // The headers are sent: whatever goes wrong from here ends the stream (SseStream.fail), not
    // the request, which would leave it open, sending heartbeats and holding its place for ever.
    const guarded =
      <Args extends unknown[]>(what: string, act: (...args: Args) => void) =>
      (...args: Args): void => {
        try {
          act(...args);
        } catch (error) {
          stream.fail(what, error);
        }
      };
    const sendState = guarded(`The job's state could not be sent`, (state: JobView) => {
      if (TERMINAL_STATUSES.has(state.status)) stream.finish('state', state);
      else stream.send('state', state);
    });
    sendState(job);
    if (stream.closed) return stream;
    forward = guarded(`A job event could not be sent`, (event: JobEvent) => {
      if (event.event === RESYNC) return void resend();
      if (TERMINAL_EVENTS.has(event.event)) stream.finish(event.event, event);
      else stream.send(event.event, event);
    });
    // Events published while the API's subscription was down are lost: send the state again.
    const resend = async () => {
      const now = await app.jobs.find(jobId).catch(() => undefined);
      if (!now || stream.closed) return;
      sendState(now);
    };
    for (const event of buffered.splice(0)) forward(event);
    return stream;
  };

  app.get(
    '/jobs/:id/events',
    {
      schema: {
        tags: ['events'],
        operationId: 'streamJobEvents',
        summary: "A job's events as Server-Sent Events",
        description:
          'First a `state` event with the job as GET /jobs/:id shows it (so a client that connects late misses nothing), then one event per transition (queued, delayed, active, progress, stage-completed, failed, retrying, released, completed, dead, cancelled) with its JSON, in order. If the API loses its Redis subscription for a moment, another `state` event follows its return (events between are not replayed). The stream ends after the terminal event (completed, dead, cancelled), whose event ID is `end`: an EventSource that reconnects with Last-Event-ID `end` is answered 204 No Content, which makes it stop (404 when the job does not exist); a job queued again since (a dead job retried) is followed anew, from a fresh `state` event. Comment lines every SSE_HEARTBEAT keep proxies from closing it. Should an event fail to be written (its data cannot be serialized), the stream ends with a last `stream-error` event (ID `end`) whose `detail` says so.',
        params: jobIdParamsSchema,
        headers: z.object({
          'last-event-id': z
            .string()
            .optional()
            .describe(
              "sent by a browser's EventSource when it connects again: the ID of the last event it read. `end`, the ID of a stream's last event, is answered 204 No Content while the job is still completed, dead or cancelled, which makes EventSource stop; any other value (an event's number) is ignored, and the stream starts again from a `state` event (events are not replayed). Leave it out to follow the job.",
            ),
        }),
        response: {
          200: z.string().describe('text/event-stream'),
          204: z.null().describe('the job ended before this reconnect (Last-Event-ID: end) and has not been queued again since: EventSource stops'),
          ...problemResponses(404, 503),
        },
      },
    },
    async (request, reply) => {
      const jobId = request.params.id;
      const mustExist = async () => {
        const job = await app.jobs.find(jobId);
        if (!job) throw jobNotFound(jobId);
        return job;
      };
      // A browser reconnecting after the job's stream ended: 204 tells EventSource to stop, while
      // the job is still ended. One retried since (dead, then queued again) is followed anew.
      if (endedBefore(request) && TERMINAL_STATUSES.has((await mustExist()).status)) return noMoreEvents(reply);
      if (request.method === 'HEAD') {
        await mustExist();
        return streamHeaders(reply);
      }
      // With every place taken, a job that does not exist is still a 404: a 503 would have its
      // client retry something that can never succeed.
      if (app.streams.full) await mustExist();
      app.streams.reserve();
      let stream: SseStream | undefined;
      try {
        stream = await followJob(jobId, reply);
      } finally {
        app.streams.settle(stream);
      }
    },
  );

  app.get(
    '/events',
    {
      schema: {
        tags: ['events'],
        operationId: 'streamQueueEvents',
        summary: "Every job event of one or more queues as Server-Sent Events (for dashboards)",
        description:
          'First a `subscribed` event, `{queues}` (the queues it listens to; with `queue` too when there is one), then every event of the queues as it is published, each with its `queue`. One stream can carry every queue (`?queue=inference,documents`): a browser keeps at most 6 connections to a host over HTTP/1.1, so a page with a stream per queue, open in two tabs, left none for its other requests. A `resync` event says events between may be missing: the API lost its Redis subscription for a moment, or (right after `subscribed`) this is an EventSource connecting again (it sends Last-Event-ID), whose events meanwhile were not kept: read GET /queues/{name} again, and GET /jobs/{id} for the jobs you wait for. Should an event fail to be written, the stream ends with a last `stream-error` event whose `detail` says so.',
        querystring: z.object({ queue: z.string().min(1).max(2_000).describe('queue name, e.g. inference; several separated by commas') }),
        headers: z.object({
          'last-event-id': z
            .string()
            .optional()
            .describe("sent by a browser's EventSource when it connects again: a `resync` event per queue follows `subscribed`, as events are not replayed (the IDs count from 1 on each connection)."),
        }),
        response: { 200: z.string().describe('text/event-stream'), ...problemResponses(400, 404, 503) },
      },
    },
    async (request, reply) => {
      const queues = [...new Set(request.query.queue.split(','))];
      if (queues.includes('')) {
        const message = `has an empty name in its list ("${request.query.queue}"): name the queues with commas between them, e.g. inference,documents`;
        throw new ProblemError('invalid-request', `querystring.queue: ${message}`, { errors: [{ path: 'querystring.queue', message }] });
      }
      for (const queue of queues) app.jobs.queues.named(queue);
      if (request.method === 'HEAD') return streamHeaders(reply);
      app.streams.reserve();
      // Subscribed before the stream opens: a Redis that does not answer is still a 503, not a dead stream.
      let stream: SseStream | undefined;
      const stops: (() => void)[] = [];
      try {
        // A `resync` event here says events may have been missed while the subscription was down.
        for (const queue of queues) {
          stops.push(
            await app.events.onQueue(queue, (event) => {
              if (!stream) return;
              const json = queueEventJson(event, queue);
              // One that cannot be written as JSON ends the stream, as send says.
              if (json === undefined) stream.send(event.event, { ...event, queue });
              else stream.sendJson(event.event, json);
            }),
          );
        }
        stream = new SseStream(reply, heartbeatMs);
        stream.onClose(() => stops.forEach((stop) => stop()));
        // `queues` always, so a client reads one shape; `queue` too for one, as it was first sent.
        stream.send('subscribed', queues.length === 1 ? { queues, queue: queues[0] } : { queues });
        // An EventSource connecting again (the API restarted, a proxy cut the stream): pub/sub
        // kept nothing of the gap, so it is told as after a lost subscription. With no word, a
        // page waiting for `completed` events waited for good.
        if (request.headers['last-event-id'] !== undefined) {
          const at = Date.now();
          for (const queue of queues) stream.send(RESYNC, { event: RESYNC, at, queue });
        }
      } finally {
        if (!stream) stops.forEach((stop) => stop());
        app.streams.settle(stream);
      }
    },
  );
};

export default eventsRoutes;
