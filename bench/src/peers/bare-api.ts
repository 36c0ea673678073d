/**
 * The HTTP ceiling: a bare Fastify route that answers POST /jobs with the same 202 body as
 * Conveyor (a fresh job ID and a Location header) without validating or storing anything.
 */
import { newJobId } from '@conveyor/shared';
import Fastify from 'fastify';

const app = Fastify({ logger: false });

app.post('/jobs', async (_request, reply) => {
  const jobId = newJobId('inference');
  return reply.code(202).header('location', `/jobs/${jobId}`).send({ job_id: jobId, status: 'queued' });
});

const url = await app.listen({ port: 0, host: '127.0.0.1' });
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
console.log(JSON.stringify({ msg: 'ready', url }));
