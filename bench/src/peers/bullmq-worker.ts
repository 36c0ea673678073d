/**
 * One BullMQ Worker process with a no-op processor (it returns the prompt, like Conveyor's
 * `echo` model) at CONCURRENCY.
 */
import { Worker } from 'bullmq';
import { BULLMQ_QUEUE, bullmqConnection } from './bullmq-connection.js';

const worker = new Worker(BULLMQ_QUEUE, async (job) => ({ text: (job.data as { prompt?: string }).prompt ?? '' }), {
  connection: bullmqConnection(process.env['REDIS_URL']!),
  concurrency: Number(process.env['CONCURRENCY'] ?? 1),
});
worker.on('error', (error) => console.error(JSON.stringify({ msg: 'worker error', err: error.message })));

await worker.waitUntilReady();
process.once('SIGTERM', () => void worker.close().then(() => process.exit(0)));
console.log(JSON.stringify({ msg: 'ready' }));
