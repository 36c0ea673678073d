import { controlChannel, createRedis } from '@conveyor/shared';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { JobRunner } from './job-runner.js';
import type { WorkerContext } from './worker-context.js';

const controlMessageSchema = z.discriminatedUnion('type', [z.object({ type: z.literal('cancel'), job_id: z.string() })]);
export type ControlMessage = z.output<typeof controlMessageSchema>;

/**
 * The fleet-wide pub/sub channel: every worker gets every message. A `cancel` fires the held
 * job's AbortSignal. Nothing lives only here: a worker that misses a cancel learns it at its
 * next lease renewal, because the job's record already says `cancelled`.
 */
export class ControlChannel {
  readonly #subscriber: Redis;

  constructor(
    private readonly ctx: WorkerContext,
    private readonly runner: JobRunner,
  ) {
    this.#subscriber = createRedis(ctx.config.REDIS_URL, { role: 'subscriber', name: `conveyor:worker:${ctx.consumer}:control` });
  }

  async start(): Promise<void> {
    this.#subscriber.on('message', (_channel: string, text: string) => this.#handle(text));
    await this.#subscriber.subscribe(controlChannel(this.ctx.config.KEY_PREFIX));
  }

  stop(): void {
    this.#subscriber.disconnect();
  }

  #handle(text: string): void {
    let message: ControlMessage;
    try {
      const parsed = controlMessageSchema.safeParse(JSON.parse(text));
      if (!parsed.success) return this.ctx.logger.debug({ message: text }, 'ignored a control message of another kind');
      message = parsed.data;
    } catch {
      return this.ctx.logger.warn({ message: text }, 'ignored a control message that is not JSON');
    }
    if (message.type === 'cancel') {
      const held = this.runner.findJob(message.job_id);
      if (!held) return;
      this.ctx.logger.info({ job_id: message.job_id }, 'job cancelled; stopping it');
      this.runner.stop(held, 'cancelled', 'the job was cancelled');
    }
  }
}
