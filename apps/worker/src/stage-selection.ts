import { PIPELINES, findPipeline, hasPartition, nextStage, previousStage, queueNameOf, servedQueuesOf, type PartitionCounts } from '@conveyor/shared';
import type { ServedStage } from './worker-context.js';

/**
 * The stages a worker serves. `WORKER_STAGES` lists `<queue>` (every stage of it) or
 * `<queue>:<stage>`, comma-separated; unset means every stage of every queue. A partitioned
 * queue (QUEUE_PARTITIONS) is served in all its partitions and its own streams; naming one
 * partition (`documents.2`, `documents.2:extract`) serves that one alone, even one that
 * QUEUE_PARTITIONS no longer gives (to drain it after the count was lowered; see
 * `partitionsBeyondCount`).
 */
export function selectStages(setting: string | undefined, partitions: PartitionCounts): ServedStage[] {
  const entries = (setting ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  // Only an empty setting means every stage: a list of nothing (",", a template that filled in none) is a mistake.
  if (entries.length === 0 && (setting ?? '').trim() !== '') {
    throw new Error(`WORKER_STAGES: "${setting}" names no stage; name them, e.g. documents:extract,inference, or leave it unset (or empty) for every stage`);
  }
  const wanted = entries.length === 0 ? PIPELINES.map((pipeline) => pipeline.name) : entries;
  const served = new Map<string, ServedStage>();
  for (const entry of wanted) {
    const [queue = '', stage, ...rest] = entry.split(':');
    // A third part (a stage after the stage, a lane) served what came before it alone, silently.
    if (rest.length > 0) {
      // The example: the queue and the first stage named (`inference::infer` means inference:infer).
      const example = [queue, stage || rest.find(Boolean)].filter(Boolean).join(':');
      throw new Error(`WORKER_STAGES: "${entry}" has ${rest.length + 2} parts; name a queue or a queue and one of its stages (${example}), and list several with commas (documents:extract,documents:analyze); a worker serves every lane of what it names`);
    }
    const pipeline = findPipeline(queue);
    if (!pipeline) throw new Error(`WORKER_STAGES: unknown queue "${queue}"; known queues: ${PIPELINES.map((p) => p.name).join(', ')}`);
    if (stage !== undefined && !pipeline.stages.includes(stage)) {
      throw new Error(`WORKER_STAGES: queue "${queueNameOf(pipeline)}" has no stage "${stage}"; its stages: ${pipeline.stages.join(', ')}`);
    }
    for (const each of pipeline.partition ? [pipeline] : servedQueuesOf(pipeline, partitions)) {
      for (const name of stage === undefined ? each.stages : [stage]) {
        served.set(`${each.name}:${name}`, { pipeline: each, stage: name, previous: previousStage(each, name), next: nextStage(each, name) });
      }
    }
  }
  return [...served.values()];
}

/** Served partitions that QUEUE_PARTITIONS does not give their queue (named in WORKER_STAGES to drain them). */
export function partitionsBeyondCount(stages: readonly ServedStage[], partitions: PartitionCounts): string[] {
  const beyond = stages.filter(({ pipeline: { partition } }) => partition && !hasPartition(partition.queue, partition.index, partitions)).map(({ pipeline }) => pipeline.name);
  return [...new Set(beyond)];
}
