import { waitFor } from '@conveyor/testing/wait';
import { Redis } from 'ioredis';
import { flush, formatNumber, type BenchContext, type ScenarioResult } from '../scenario.js';
import { ConveyorStack } from '../stacks/conveyor.js';
import { percentile } from '../stats.js';

const WORKER_CONCURRENCY = 8;

const SENTENCES = [
  'The quarterly report shows that revenue grew by twelve percent while costs stayed flat.',
  'Customers in the northern region renewed their contracts at a higher rate than last year.',
  'The engineering team shipped the new search feature two weeks ahead of schedule.',
  'Support tickets fell after the onboarding guide was rewritten in plain language.',
  'A delay at the main supplier slowed deliveries during the second month of the quarter.',
  'The board approved a budget for two more data centres and a larger research group.',
  'Employee surveys point to strong morale, with some concern about the pace of hiring.',
  'Next quarter the company plans to enter two new markets and to simplify its pricing.',
];

/** A plain-text report of about 3 KB, different for each `n`. */
function documentText(n: number): string {
  const lines = Array.from({ length: 32 }, (_, i) => SENTENCES[(i * 3 + n) % SENTENCES.length]);
  return `Report number ${n}\n\n${lines.join(' ')}\n`;
}

interface StageView {
  name: string;
  started_at: string | null;
  finished_at: string | null;
}

/**
 * Documents through extract → analyze → summarize → embed with one worker process: time per
 * stage and documents per second. Absolute figures, for spotting regressions between runs.
 */
export async function pipeline(ctx: BenchContext): Promise<ScenarioResult> {
  const { documents } = ctx.sizes.pipeline;
  await flush(ctx);
  const conveyor = new ConveyorStack(ctx.redisUrl);
  const api = await conveyor.startApi();
  const worker = await conveyor.startWorker(WORKER_CONCURRENCY, { WORKER_STAGES: 'documents' });
  const subscriber = new Redis(ctx.redisUrl);
  const completedAt = new Map<string, number>();
  const upload = async (n: number) => {
    const form = new FormData();
    form.append('file', new Blob([documentText(n)], { type: 'text/plain' }), `report-${n}.txt`);
    const response = await fetch(`${api.url}/documents`, { method: 'POST', body: form });
    const answer = (await response.json()) as { job_id?: string };
    if (response.status !== 202 || !answer.job_id) throw new Error(`POST /documents answered ${response.status}: ${JSON.stringify(answer)}`);
    return answer.job_id;
  };
  try {
    subscriber.on('message', (_channel, text: string) => {
      const event = JSON.parse(text) as { event: string; job_id: string };
      if (event.event === 'completed') completedAt.set(event.job_id, performance.now());
    });
    await subscriber.subscribe(conveyor.keysOf('documents').events);
    // The first document loads the language models: a cold start, not counted.
    const warm = await upload(0);
    await waitFor(() => completedAt.has(warm), 'the warm-up document', 60_000);
    const started = performance.now();
    const ids: string[] = [];
    for (let n = 1; n <= documents; n += 1) ids.push(await upload(n));
    await waitFor(() => ids.every((id) => completedAt.has(id)), 'every document to complete', 120_000);
    const seconds = (Math.max(...ids.map((id) => completedAt.get(id)!)) - started) / 1_000;
    const stageMs = new Map<string, number[]>();
    for (const id of ids) {
      const view = (await (await fetch(`${api.url}/jobs/${id}`)).json()) as { stages: StageView[] };
      for (const stage of view.stages) {
        if (!stage.started_at || !stage.finished_at) continue;
        stageMs.set(stage.name, [...(stageMs.get(stage.name) ?? []), Date.parse(stage.finished_at) - Date.parse(stage.started_at)]);
      }
    }
    const perStage = Object.fromEntries([...stageMs].map(([name, samples]) => [name, { p50_ms: percentile(samples, 50), p99_ms: percentile(samples, 99) }]));
    const rate = documents / seconds;
    ctx.progress(`pipeline: ${formatNumber(rate, 1)} documents/s; ${Object.entries(perStage).map(([name, ms]) => `${name} p50 ${ms.p50_ms} ms`).join(', ')}`);
    return {
      scenario: 'pipeline',
      figures: { documents, document_bytes: documentText(1).length, worker_concurrency: WORKER_CONCURRENCY, documents_per_s: rate, stage_ms: perStage },
      comparisons: [
        {
          scenario: 'pipeline',
          measure: `${documents} text documents, 4 stages, 1 worker`,
          ours: `${formatNumber(rate, 1)} docs/s; p50 ms ${Object.entries(perStage).map(([name, ms]) => `${name} ${ms.p50_ms}`).join(', ')}`,
          peer: '(absolute)',
          ratio: null,
          target: '—',
          met: null,
        },
      ],
    };
  } finally {
    subscriber.disconnect();
    await Promise.all([api.stop(), worker.stop()]);
    conveyor.close();
    await flush(ctx);
  }
}
