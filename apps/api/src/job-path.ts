/** A lone surrogate (half of a UTF-16 pair without its other half), which encodeURIComponent refuses. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * The path of a job, for a Location header or an `output_url`. A job ID another producer chose
 * may hold characters a header cannot carry (`€`, which made Node refuse the header and the
 * answer a 500 after the work was done) or that a path reads otherwise (`/`, `?`, `#`, `%`):
 * those are percent-encoded, as UTF-8. `:` is kept, so the IDs the API makes read as they are.
 */
export function jobPath(jobId: string): string {
  return `/jobs/${encodeURIComponent(jobId.replace(LONE_SURROGATE, '\ufffd')).replaceAll('%3A', ':')}`;
}
