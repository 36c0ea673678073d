import { setTimeout as sleep } from 'node:timers/promises';

export interface SteadyLoadResult {
  sent: number;
  failed: number;
  /** Requests per second actually sent. */
  achievedRate: number;
}

/**
 * POSTs `body` to `url` at a steady `rate` per second for `seconds` (open loop: the schedule does
 * not wait for answers), and reports each accepted job with the moment its request was sent.
 */
export async function steadyLoad(
  url: string,
  body: string,
  rate: number,
  seconds: number,
  onAccepted: (jobId: string, sentAt: number) => void,
): Promise<SteadyLoadResult> {
  const started = performance.now();
  const end = started + seconds * 1_000;
  const pending = new Set<Promise<void>>();
  let sent = 0;
  let failed = 0;
  const send = () => {
    const sentAt = performance.now();
    const request = fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
      .then(async (response) => {
        const answer = (await response.json()) as { job_id?: string };
        if (response.ok && answer.job_id) onAccepted(answer.job_id, sentAt);
        else failed += 1;
      })
      .catch(() => {
        failed += 1;
      })
      .finally(() => pending.delete(request));
    pending.add(request);
    sent += 1;
  };
  for (let now = performance.now(); now < end; now = performance.now()) {
    const due = Math.floor(((now - started) / 1_000) * rate);
    while (sent < due) send();
    await sleep(1);
  }
  const achievedRate = sent / ((performance.now() - started) / 1_000);
  await Promise.all(pending);
  return { sent, failed, achievedRate };
}
