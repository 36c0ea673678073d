import { PROBLEMS, type ProblemSlug } from './catalogue.js';

/**
 * An error the API answers with as an RFC 9457 problem. Routes and services throw it; the
 * error handler turns it into the response. `extensions` become extra members of the body.
 */
export class ProblemError extends Error {
  readonly status: number;

  constructor(
    readonly slug: ProblemSlug,
    readonly detail: string,
    readonly extensions: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
    this.name = 'ProblemError';
    this.status = PROBLEMS[slug].status;
  }
}
