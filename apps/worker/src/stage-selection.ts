import { PIPELINES, findPipeline, nextStage, previousStage } from '@conveyor/shared';
import type { ServedStage } from './worker-context.js';

/**
 * The stages a worker serves. `WORKER_STAGES` lists `<queue>` (every stage of it) or
 * `<queue>:<stage>`, comma-separated; unset means every stage of every queue.
 */
export function selectStages(setting: string | undefined): ServedStage[] {
  const entries = (setting ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  const wanted = entries.length === 0 ? PIPELINES.map((pipeline) => pipeline.name) : entries;
  const served = new Map<string, ServedStage>();
  for (const entry of wanted) {
    const [queue = '', stage] = entry.split(':');
    const pipeline = findPipeline(queue);
    if (!pipeline) throw new Error(`WORKER_STAGES: unknown queue "${queue}"; known queues: ${PIPELINES.map((p) => p.name).join(', ')}`);
    if (stage !== undefined && !pipeline.stages.includes(stage)) {
      throw new Error(`WORKER_STAGES: queue "${queue}" has no stage "${stage}"; its stages: ${pipeline.stages.join(', ')}`);
    }
    for (const name of stage === undefined ? pipeline.stages : [stage]) {
      served.set(`${queue}:${name}`, { pipeline, stage: name, previous: previousStage(pipeline, name), next: nextStage(pipeline, name) });
    }
  }
  return [...served.values()];
}
