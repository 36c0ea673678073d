import { waitFor } from '@conveyor/testing';

/**
 * Calls to a running API that the end-to-end tests share: `url` is read at each call, since the
 * API starts in a `beforeAll`.
 */
export function apiJobs(url: () => string) {
  const post = (path: string, body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
    fetch(`${url()}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });

  const job = async (id: string): Promise<Record<string, unknown>> => (await (await fetch(`${url()}/jobs/${encodeURIComponent(id)}`)).json()) as Record<string, unknown>;

  /** The jobs' records once every one has `status`. */
  const settled = (ids: string[], status = 'completed'): Promise<Record<string, unknown>[]> =>
    waitFor(
      async () => {
        const records = await Promise.all(ids.map(job));
        return records.every((record) => record['status'] === status) && records;
      },
      `${ids.length} jobs to be ${status}`,
      20_000,
    );

  return { post, job, settled };
}
