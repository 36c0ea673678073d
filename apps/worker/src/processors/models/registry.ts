import type { Model } from './model.js';
import { echo } from './echo.js';

/** Models by name. The API accepts exactly these names (see BUILTIN_MODELS in shared). */
export const models: ReadonlyMap<string, Model> = new Map<string, Model>([['echo', echo]]);
