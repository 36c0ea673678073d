import { responsesOf, type Document, type Response } from './operations.js';

/**
 * The answers that are not JSON: the two event streams (Server-Sent Events, written on a
 * hijacked reply) and the Prometheus metrics. Their route schemas cannot say so: Fastify's
 * response schemas describe JSON.
 */

const FRAMING =
  'Server-Sent Events: a `retry: 3000` line first, then each event as `id: <n>`, `event: <name>` and `data: <JSON>`; comment lines (`: heartbeat`) every SSE_HEARTBEAT keep proxies from closing an idle stream.';

const TRANSITIONS =
  'Transition events (`queued`, `delayed`, `active`, `progress`, `stage-completed`, `failed`, `stalled`, `retrying`, `released`, `completed`, `dead`, `cancelled`) carry `{event, job_id, at}` (`at` in ms since the epoch) and their own fields, such as `stage`, `attempt`, `worker`, `percent` and `message`, `next_stage`, `error`, `run_at`, `retry_at`. Every time in an event is in ms since the epoch, the `error`\'s `at` and `run_at` included; GET /jobs/:id shows the same times as ISO strings, and a delayed job\'s due time (an event\'s `run_at`) as `retry_at`.';

const STREAM_ERROR =
  'An event that cannot be written (its data cannot be serialized, e.g. nested too deep) ends the stream with a last `stream-error` event, ID `end`, whose `{detail}` says what could not be sent.';

const eventStream = (events: string): Response => ({
  description: `${FRAMING} ${events}`,
  content: { 'text/event-stream': { schema: { type: 'string', description: 'a stream of Server-Sent Events' } } },
});

const ANSWERS: Record<string, Record<string, Response>> = {
  streamJobEvents: {
    200: eventStream(
      `First \`state\`, whose data is the job as GET /jobs/{id} shows it; then the job's events in order. ${TRANSITIONS} Another \`state\` follows a lost Redis subscription. The stream ends after \`completed\`, \`dead\` or \`cancelled\`, whose event ID is \`end\`. ${STREAM_ERROR}`,
    ),
  },
  streamQueueEvents: {
    200: eventStream(
      `First \`subscribed\` with \`{queues}\` (the queues listened to; with \`queue\` too when there is one), then every event of the queues' jobs as it is published. ${TRANSITIONS} \`resync\` says the API lost its Redis subscription for a moment and events may be missing: read GET /queues/{name} again. The stream does not end of itself. ${STREAM_ERROR}`,
    ),
  },
  getMetrics: {
    200: {
      description: 'Prometheus text exposition format 0.0.4: HTTP requests, jobs enqueued, Redis errors, and each stage\'s backlog read at the scrape',
      content: { 'text/plain': { schema: { type: 'string' } } },
    },
  },
};

export function describeNonJsonAnswers(document: Document): void {
  for (const item of Object.values(document.paths ?? {})) {
    const operation = item?.get;
    const answers = ANSWERS[operation?.operationId ?? ''];
    if (operation && answers) Object.assign(responsesOf(operation), answers);
  }
}
