/**
 * Cached state of the built-in models (loaded NLP models, word vectors), dropped on an
 * `invalidate-model-cache` broadcast so the next job reloads it.
 */
const caches = new Map<string, () => void>();

/** A model registers how to drop its cached state. */
export function registerModelCache(model: string, drop: () => void): void {
  caches.set(model, drop);
}

/** Drops the cached state of `model`, or of every model; returns the models dropped. */
export function invalidateModelCaches(model?: string): string[] {
  const names = model === undefined ? [...caches.keys()] : caches.has(model) ? [model] : [];
  for (const name of names) caches.get(name)!();
  return names;
}
