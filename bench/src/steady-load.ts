import { Agent, request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

export interface SteadyLoadResult {
  sent: number;
  failed: number;
  /** Requests per second actually sent. */
  achievedRate: number;
}

/** POSTs a JSON body with node:http over kept-alive connections (fetch costs too much CPU to send 1,000/s here). */
export function postJson(agent: Agent, url: URL, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
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
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const target = new URL(url);
  const started = performance.now();
  const end = started + seconds * 1_000;
  const pending = new Set<Promise<void>>();
  let sent = 0;
  let failed = 0;
  const send = () => {
    const sentAt = performance.now();
    const posted = postJson(agent, target, body)
      .then((answer) => {
        const jobId = answer.status < 300 ? (JSON.parse(answer.body) as { job_id?: string }).job_id : undefined;
        if (jobId) onAccepted(jobId, sentAt);
        else failed += 1;
      })
      .catch(() => {
        failed += 1;
      })
      .finally(() => pending.delete(posted));
    pending.add(posted);
    sent += 1;
  };
  for (let now = performance.now(); now < end; now = performance.now()) {
    const due = Math.floor(((now - started) / 1_000) * rate);
    while (sent < due) send();
    await sleep(1);
  }
  const achievedRate = sent / ((performance.now() - started) / 1_000);
  await Promise.all(pending);
  agent.destroy();
  return { sent, failed, achievedRate };
}
