import { findDeclaredPipeline, findPipeline, hasPartition, PIPELINES, queueOfJobId, servedQueuesOf, type Pipeline } from '@conveyor/shared';
import { ProblemError } from '../problems/problem-error.js';

/**
 * Queue names as clients send them (in paths, bodies and job IDs), turned into the pipelines
 * they name: a declared queue, its partitions, or the problem that says why there is none.
 */
export class QueueDirectory {
  /** `partitions`: QUEUE_PARTITIONS, the number of partitions of each queue that has more than one. */
  constructor(private readonly partitions: Readonly<Record<string, number>>) {}

  /** The pipeline of a queue that exists, or the 404 problem. */
  named(name: string): Pipeline {
    const pipeline = findDeclaredPipeline(name);
    if (!pipeline) throw new ProblemError('queue-not-found', `There is no queue "${name}". Queues: ${PIPELINES.map((p) => p.name).join(', ')}.`);
    return pipeline;
  }

  /** Where the jobs of a queue that exists may be (the queue, then its partitions), or the 404 problem. */
  served(name: string): Pipeline[] {
    return servedQueuesOf(this.named(name), this.partitions);
  }

  /**
   * One partition of a queue that exists (`index`), or the queue itself (no index); a partition
   * the queue lacks is the 400 problem, naming `path`.
   */
  partition(name: string, index: number | undefined, path: string): Pipeline {
    const pipeline = this.named(name);
    if (index === undefined) return pipeline;
    if (hasPartition(pipeline.name, index, this.partitions)) return findPipeline(`${pipeline.name}.${index}`)!;
    const partitions = this.partitions[pipeline.name] ?? 1;
    const message = partitions > 1 ? `Queue "${name}" has partitions 0 to ${partitions - 1}, not ${index}.` : `Queue "${name}" is not partitioned (QUEUE_PARTITIONS); leave ${path} out.`;
    throw new ProblemError('invalid-request', message, { errors: [{ path, message }] });
  }

  /**
   * The declared queue a new job names, or the 400 problem naming `path`. A partition's name (`inference.3`) is
   * not one: no worker reads a partition QUEUE_PARTITIONS does not give, and a job sent to one
   * that exists would skip the spreading and the idempotency-key routing that picks it. Such a
   * name is pointed to its queue only when that queue is in partitions and takes this input;
   * on an API without partitions, telling the client of partitions would mislead it.
   */
  forSubmission(name: string, input: Pipeline['input'], path = input === 'json' ? 'body.queue' : 'body.pipeline'): Pipeline {
    const pipeline = findDeclaredPipeline(name);
    const named = pipeline ? undefined : findPipeline(name);
    const partition = named?.input === input ? named.partition : undefined;
    if (partition && (this.partitions[partition.queue] ?? 1) > 1) {
      const message = `"${name}" names a partition; send jobs to the queue "${partition.queue}", and the API spreads them over its partitions (QUEUE_PARTITIONS).`;
      throw new ProblemError('invalid-request', message, { errors: [{ path, message: `"${name}" is a partition, not a ${input === 'json' ? 'queue' : 'pipeline'}` }] });
    }
    if (!pipeline || pipeline.input !== input) {
      const takes = input === 'json' ? 'JSON jobs' : 'documents';
      const fitting = PIPELINES.filter((candidate) => candidate.input === input).map((candidate) => candidate.name).join(', ');
      const kind = input === 'json' ? 'queue' : 'pipeline';
      const other = pipeline?.input === 'json' ? 'JSON jobs (POST /jobs)' : 'documents (POST /documents)';
      const [detail, message] = pipeline
        ? [`Queue "${name}" takes ${other}, not ${takes}`, `queue "${name}" takes ${other}, not ${takes}`]
        : [`There is no ${kind} "${name}"`, `unknown ${kind} "${name}"`];
      throw new ProblemError('invalid-request', `${detail}; these take ${takes}: ${fitting}.`, { errors: [{ path, message }] });
    }
    return pipeline;
  }

  /** The queue or partition a job ID routes to, if it names one. */
  ofJob(jobId: string): Pipeline | undefined {
    const queue = queueOfJobId(jobId);
    return queue === undefined ? undefined : findPipeline(queue);
  }
}
