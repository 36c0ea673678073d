import type { Logger } from '@conveyor/shared';

/** What a processor knows of the job it runs. */
export interface JobInfo {
  id: string;
  queue: string;
  stage: string;
  attempt: number;
  maxAttempts: number;
  createdAt: Date;
}

export interface ProcessorHelpers {
  job: JobInfo;
  /** The previous stage's output (parsed), undefined in a pipeline's first stage. */
  input: unknown;
  /** Carries the job ID; one line per thing worth knowing. */
  logger: Logger;
  /** Fires when the job is cancelled, times out, or the worker must let go of it. Stop then. */
  signal: AbortSignal;
  /** The uploaded document's bytes (documents pipelines only). */
  document(): Promise<Buffer>;
  /** An earlier stage's output (parsed), e.g. the extracted text for every later documents stage. */
  stageOutput(stage: string): Promise<unknown>;
  /**
   * Reports progress, 0 to 100, with a short message: kept in the job record and published as a
   * `progress` event. Calls closer than 100 ms apart are coalesced, except 100. A report Redis
   * refuses for now (out of memory, failing over, unreachable) is logged and dropped, not thrown.
   */
  progress(percent: number, message?: string): Promise<void>;
}

/**
 * A processor runs one stage of a job: a plain async function of the job's payload. What it
 * returns (JSON-serializable) is the stage's output. Throwing fails the attempt; throw
 * `NonRetryableError` when trying again cannot help.
 */
export type Processor = (payload: unknown, helpers: ProcessorHelpers) => Promise<unknown>;
