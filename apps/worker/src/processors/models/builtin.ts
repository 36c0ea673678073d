import { echo } from './echo.js';
import type { Model } from './model.js';

/** The models every worker runs locally, with no network and no download. */
export const builtinModels: ReadonlyMap<string, Model> = new Map<string, Model>([['echo', echo]]);
