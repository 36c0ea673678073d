import { controlChannel, controlMessageSchema, createRedis, modelInvalidationChannel, type ControlMessage, type RedisClient } from '@conveyor/shared';
import type { JobRunner } from './job-runner.js';
import type { PauseState } from './pause-state.js';
import type { WorkerContext } from './worker-context.js';

export interface ControlHandlers {
  /** Drops the cached state of one model, or of every model; returns what was dropped. */
  invalidateModels(model: string | undefined): string[];
  /** Promotes `queue`'s delayed jobs in `dueInMs`, when this worker serves it. */
  promoteIn(queue: string, dueInMs: number): void;
}

/**
 * The model a message on the plain invalidation channel names: `embed:v2` or `embed` (model,
 * optionally `:version`), or JSON with a `model` field, as in `{"model":"embed","version":"v2",
 * "timestamp":1733400000.5}`. Undefined (every model) when it names none; null when it starts
 * as JSON and is not.
 */
function invalidatedModel(text: string): string | undefined | null {
  if (!text.trimStart().startsWith('{')) return text.split(':')[0] || undefined;
  try {
    const { model } = JSON.parse(text) as { model?: unknown };
    return typeof model === 'string' && model !== '' ? model : undefined;
  } catch {
    return null;
  }
}

/**
 * The fleet-wide pub/sub channels: every worker gets every message (broadcast, not work).
 *   - `<prefix>:control`: JSON messages: cancel a job, invalidate model caches, reload the
 *     settings kept in Redis, a pause changed, a job delayed until soon.
 *   - `<prefix>:models:invalidate`: the plain form any Redis client can send, as in
 *     `PUBLISH conveyor:models:invalidate embed:v2` (see invalidatedModel).
 * Nothing lives only here: a worker that misses a cancel learns it at its next lease renewal,
 * and one that misses a pause change or a delayed job at its next maintenance tick.
 */
export class ControlChannel {
  readonly #subscriber: RedisClient;
  readonly #control: string;
  readonly #invalidation: string;

  constructor(
    private readonly ctx: WorkerContext,
    private readonly runner: JobRunner,
    private readonly pauses: PauseState,
    private readonly handlers: ControlHandlers,
  ) {
    this.#subscriber = createRedis(ctx.config.REDIS_URL, { role: 'subscriber', name: `conveyor:worker:${ctx.consumer}:control`, silenceTimeoutMs: ctx.config.REDIS_TIMEOUT, cluster: ctx.config.REDIS_CLUSTER, seeds: ctx.config.REDIS_CLUSTER_NODES });
    this.#control = controlChannel(ctx.config.KEY_PREFIX);
    this.#invalidation = modelInvalidationChannel(ctx.config.KEY_PREFIX);
  }

  async start(): Promise<void> {
    this.#subscriber.on('message', (channel: string, text: string) => {
      if (channel !== this.#invalidation) return this.#handle(text);
      const model = invalidatedModel(text);
      if (model === null) return void this.ctx.logger.warn({ message: text }, 'ignored a model invalidation that is not JSON');
      this.#invalidate(model, text);
    });
    await this.#subscriber.subscribe(this.#control, this.#invalidation);
  }

  stop(): void {
    this.#subscriber.disconnect();
  }

  #handle(text: string): void {
    let message: ControlMessage;
    try {
      const parsed = controlMessageSchema.safeParse(JSON.parse(text));
      if (!parsed.success) return void this.ctx.logger.warn({ message: text }, 'ignored a control message of an unknown kind');
      message = parsed.data;
    } catch {
      return void this.ctx.logger.warn({ message: text }, 'ignored a control message that is not JSON');
    }
    switch (message.type) {
      case 'cancel': {
        const held = this.runner.findJob(message.job_id);
        if (!held) return;
        this.ctx.logger.info({ job_id: message.job_id }, 'job cancelled; stopping it');
        return held.stop('cancelled', 'the job was cancelled');
      }
      case 'invalidate-model-cache':
        return this.#invalidate(message.model, text);
      case 'reload-config':
        this.ctx.logger.info({ type: message.type }, 'control message received');
        return void this.pauses.refresh().catch((error: Error) => this.ctx.logger.warn({ err: error.message }, 'could not reload settings'));
      case 'pause-changed':
        return void this.pauses.refresh().catch((error: Error) => this.ctx.logger.warn({ err: error.message }, 'could not read the paused stages'));
      case 'delayed':
        return this.handlers.promoteIn(message.queue, message.due_in_ms);
    }
  }

  #invalidate(model: string | undefined, received: string): void {
    const dropped = this.handlers.invalidateModels(model);
    this.ctx.logger.info({ type: 'invalidate-model-cache', model: model ?? '*', dropped, received }, 'control message received');
  }
}
