import { inferencePayloadSchema, ModelInputError, paramsFault } from '@conveyor/shared';
import { z } from 'zod';
import { ModelNotHereError } from './model-not-here-error.js';
import type { Model } from './models/model.js';
import { NonRetryableError } from './non-retryable-error.js';
import type { Processor } from './processor.js';

/** The `infer` stage: validates the request and runs the model it names. */
export function createInfer(models: ReadonlyMap<string, Model>): Processor {
  return async (payload, helpers) => {
    const parsed = inferencePayloadSchema.safeParse(payload);
    if (!parsed.success) {
      throw new NonRetryableError(`the job is not a valid inference request: ${z.prettifyError(parsed.error)}`, 'INVALID_PAYLOAD');
    }
    // What the API refuses with a 400, from another producer: no attempt can run it, and a model
    // writing params nested thousands deep as JSON would run out of stack.
    const fault = paramsFault(parsed.data.params);
    if (fault) throw new NonRetryableError(`params${fault.path?.length ? `.${fault.path.join('.')}` : ''} ${fault.message}`, 'INVALID_PARAMS');
    const model = models.get(parsed.data.model);
    if (!model) throw new ModelNotHereError(parsed.data.model, [...models.keys()]);
    try {
      return await model(parsed.data, helpers);
    } catch (error) {
      // A request its model cannot run: no retry can help (the API refuses these with a 400).
      if (error instanceof ModelInputError) throw new NonRetryableError(error.message, error.code);
      throw error;
    }
  };
}
