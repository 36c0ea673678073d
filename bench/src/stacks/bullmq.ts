import { Queue, QueueEvents } from 'bullmq';
import { BULLMQ_QUEUE, bullmqConnection } from '../peers/bullmq-connection.js';
import { startPeer } from '../peers/peer-process.js';

/** BullMQ on the benchmark's Redis: the peer API and worker processes, and a Queue to fill and count with. */
export class BullmqStack {
  readonly queue: Queue;

  constructor(readonly redisUrl: string) {
    this.queue = new Queue(BULLMQ_QUEUE, { connection: bullmqConnection(redisUrl) });
  }

  startApi() {
    return startPeer('bullmq-api', { REDIS_URL: this.redisUrl });
  }

  startWorker(concurrency: number) {
    return startPeer('bullmq-worker', { REDIS_URL: this.redisUrl, CONCURRENCY: String(concurrency) });
  }

  events(): QueueEvents {
    return new QueueEvents(BULLMQ_QUEUE, { connection: bullmqConnection(this.redisUrl) });
  }

  /** Queues jobs with addBulk, 1,000 per call. */
  async enqueue(payloads: readonly object[]): Promise<void> {
    for (let i = 0; i < payloads.length; i += 1_000) {
      await this.queue.addBulk(payloads.slice(i, i + 1_000).map((data) => ({ name: 'infer', data })));
    }
  }

  async completed(): Promise<number> {
    return this.queue.getCompletedCount();
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}
