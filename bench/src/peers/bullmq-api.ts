/**
 * The hand-written peer: a Fastify service in front of BullMQ, as a team would write it.
 * POST /jobs validates the body with a JSON schema and calls `queue.add`; POST /jobs/batch
 * calls `queue.addBulk`. Answers like Conveyor: 202, the job ID, a Location header.
 */
import { Queue } from 'bullmq';
import Fastify from 'fastify';
import { BULLMQ_QUEUE, bullmqConnection } from './bullmq-connection.js';

const queue = new Queue(BULLMQ_QUEUE, { connection: bullmqConnection(process.env['REDIS_URL']!) });
const app = Fastify({ logger: false, bodyLimit: 16 * 1024 * 1024 });

const job = {
  type: 'object',
  required: ['model'],
  properties: {
    user_id: { type: 'string', maxLength: 200 },
    model: { type: 'string', minLength: 1, maxLength: 200 },
    prompt: { type: 'string', maxLength: 1_000_000 },
    params: { type: 'object' },
    priority: { enum: ['high', 'normal', 'low'] },
  },
  additionalProperties: false,
} as const;

interface JobBody {
  model: string;
  prompt?: string;
}

app.post<{ Body: JobBody }>('/jobs', { schema: { body: job } }, async (request, reply) => {
  const added = await queue.add('infer', request.body);
  return reply.code(202).header('location', `/jobs/${added.id}`).send({ job_id: added.id, status: 'queued' });
});

app.post<{ Body: { jobs: JobBody[] } }>(
  '/jobs/batch',
  { schema: { body: { type: 'object', required: ['jobs'], properties: { jobs: { type: 'array', minItems: 1, maxItems: 1_000, items: job } } } } },
  async (request, reply) => {
    const added = await queue.addBulk(request.body.jobs.map((data) => ({ name: 'infer', data })));
    return reply.code(202).send({ jobs: added.map((one) => ({ job_id: one.id, status: 'queued', created: true })) });
  },
);

await queue.waitUntilReady();
const url = await app.listen({ port: 0, host: '127.0.0.1' });
process.once('SIGTERM', () => void app.close().then(() => queue.close()).then(() => process.exit(0)));
console.log(JSON.stringify({ msg: 'ready', url }));
