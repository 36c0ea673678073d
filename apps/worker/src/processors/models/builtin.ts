import { echo } from './echo.js';
import { embed } from './embed.js';
import { language } from './language.js';
import type { Model } from './model.js';
import { sentiment } from './sentiment.js';
import { summarize } from './summarize.js';

/** The models every worker runs locally, with no network and no download. */
export const builtinModels: ReadonlyMap<string, Model> = new Map<string, Model>([
  ['echo', echo],
  ['sentiment', sentiment],
  ['summarize', summarize],
  ['embed', embed],
  ['language', language],
]);
