/**
 * How long a job whose model this worker does not run waits before its retry, at least: long
 * enough for a rolling restart to bring up workers that run it (see ModelNotHereError).
 */
export const MODEL_ELSEWHERE_WAIT_MS = 30_000;

/**
 * A job for a model this worker does not run. The API took the job because it runs the model, so
 * another worker may: a fleet mid-deploy (new API pods, old workers), or one worker started
 * without the OPENAI_* settings. The attempt fails as retryable, its retry waiting at least
 * MODEL_ELSEWHERE_WAIT_MS (`retryAfterMs`, as a model endpoint's Retry-After), so it comes back
 * to whichever worker reads it then; with no worker running the model, the job is dead-lettered
 * once its attempts are spent, with this error.
 */
export class ModelNotHereError extends Error {
  readonly code = 'UNKNOWN_MODEL';
  readonly retryAfterMs = MODEL_ELSEWHERE_WAIT_MS;

  constructor(model: string, runs: readonly string[]) {
    super(`unknown model "${model}": this worker runs ${runs.join(', ')}; another worker may run it, so the job is retried while it has attempts left (give every worker the API's OPENAI_* settings)`);
    this.name = 'ModelNotHereError';
  }
}
