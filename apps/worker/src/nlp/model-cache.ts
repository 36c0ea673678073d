/**
 * The NLP models (wink's English model, the language detector's n-grams, the word vectors) are
 * slow to load and large in memory: each is loaded once per process, on first use or before a
 * worker takes jobs, and kept. `resetNlpCaches()` drops them all so the next use loads them
 * again (the "invalidate-model-cache" broadcast calls it).
 */

export interface CachedModelStats {
  /** How many times this model has been loaded in this process. */
  loads: number;
  /** How long the last load took, in milliseconds. */
  lastLoadMs: number | undefined;
}

export interface CachedModel<T> {
  readonly name: string;
  /** The loaded model; concurrent callers share one load, and a failed load is retried next call. */
  get(): Promise<T>;
  stats(): CachedModelStats;
}

interface Entry {
  drop(): void;
  stats(): CachedModelStats;
}

const entries = new Map<string, Entry>();

/** A model loaded by `load` on first use and kept until `resetNlpCaches()`. */
export function cachedModel<T>(name: string, load: () => Promise<T>): CachedModel<T> {
  let loading: Promise<T> | undefined;
  let loads = 0;
  let lastLoadMs: number | undefined;
  const stats = () => ({ loads, lastLoadMs });
  const model: CachedModel<T> = {
    name,
    get() {
      if (!loading) {
        const startedAt = performance.now();
        loads++;
        const attempt = load().then((value) => {
          lastLoadMs = Math.round(performance.now() - startedAt);
          return value;
        });
        loading = attempt;
        attempt.catch(() => {
          if (loading === attempt) loading = undefined;
        });
      }
      return loading;
    },
    stats,
  };
  entries.set(name, { drop: () => (loading = undefined), stats });
  return model;
}

/** Drops every loaded model; each is loaded again when next used. */
export function resetNlpCaches(): void {
  for (const entry of entries.values()) entry.drop();
}

/** Load counts and times by model name (for logs and tests). */
export function nlpCacheStats(): Record<string, CachedModelStats> {
  return Object.fromEntries([...entries].map(([name, entry]) => [name, entry.stats()]));
}
