/**
 * An error that another attempt cannot fix (bad input, an unsupported document): the job is
 * dead-lettered at once instead of being retried.
 */
export class NonRetryableError extends Error {
  constructor(
    message: string,
    readonly code = 'NON_RETRYABLE',
  ) {
    super(message);
    this.name = 'NonRetryableError';
  }
}
