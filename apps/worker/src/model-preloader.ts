import type { Logger } from '@conveyor/shared';
import type { CachedModel } from './nlp/model-cache.js';
import { loadModels } from './processors/model-caches.js';

/**
 * Keeps the built-in NLP models a worker's stages use loaded (PRELOAD_MODELS):
 * before it takes jobs, and again at once after an `invalidate-model-cache` broadcast, rather
 * than in the first job that needs them. Loading holds the event loop for up to half a second
 * at a time, when a worker holding jobs renews no lease.
 */
export class ModelPreloader {
  #reloading: Promise<void> | undefined;
  #reloadAgain = false;
  #loading = false;

  constructor(
    private readonly models: readonly CachedModel<unknown>[],
    private readonly logger: Logger,
  ) {}

  get enabled(): boolean {
    return this.models.length > 0;
  }

  /** Whether the first load, before the worker takes jobs, is under way (the health server says so). */
  get loading(): boolean {
    return this.#loading;
  }

  /** Loads the models before the worker takes jobs; a model that cannot load stops the start. */
  async load(): Promise<void> {
    const startedAt = performance.now();
    this.#loading = true;
    try {
      const loadMs = await loadModels(this.models);
      this.logger.info({ load_ms: loadMs, ms: Math.round(performance.now() - startedAt) }, 'built-in models loaded');
    } catch (error) {
      throw new Error(`could not load the built-in NLP models: ${(error as Error).message}`, { cause: error });
    } finally {
      this.#loading = false;
    }
  }

  /**
   * Loads the models again after they were dropped. Broadcasts that come while a reload runs
   * make one more reload after it, not one each: a burst of them loads the models twice at most.
   */
  reload(): void {
    if (this.#reloading) {
      this.#reloadAgain = true;
      return;
    }
    this.#reloading = this.#reloadUntilCurrent().finally(() => (this.#reloading = undefined));
  }

  async #reloadUntilCurrent(): Promise<void> {
    do {
      this.#reloadAgain = false;
      try {
        const loadMs = await loadModels(this.models);
        this.logger.info({ load_ms: loadMs }, 'built-in models reloaded');
      } catch (error) {
        this.logger.warn({ err: (error as Error).message }, 'could not reload the built-in models; each job that uses one tries again');
      }
    } while (this.#reloadAgain);
  }
}
