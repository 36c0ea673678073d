/**
 * How much each scenario does in each mode. `full` is the run whose results are committed
 * (under 10 minutes on 2 cores), `quick` checks a change in under a minute, and `smoke` (the
 * test suite's) only proves every scenario still runs.
 */
export type Mode = 'full' | 'quick' | 'smoke';

export interface Sizes {
  /** Alternations of ours and the peers in the load scenarios; each figure is the median. */
  rounds: number;
  http: { seconds: number; warmupSeconds: number; connections: number };
  bulk: { jobs: number; batch: number; inFlight: number };
  processing: { jobs: number; oursConcurrency: number[]; bullmqConcurrency: number[] };
  latency: { seconds: number; warmupSeconds: number; rate: number; idleSamples: number };
  memory: { jobs: number };
  scaleOut: { secondsPerRun: number; workers: number[]; concurrency: number; sleepMs: number };
  pipeline: { documents: number };
}

export const SIZES: Record<Mode, Sizes> = {
  full: {
    rounds: 3,
    http: { seconds: 10, warmupSeconds: 2, connections: 50 },
    bulk: { jobs: 50_000, batch: 1_000, inFlight: 2 },
    processing: { jobs: 100_000, oursConcurrency: [64, 256, 512], bullmqConcurrency: [50, 200, 500] },
    latency: { seconds: 10, warmupSeconds: 3, rate: 1_000, idleSamples: 300 },
    memory: { jobs: 20_000 },
    scaleOut: { secondsPerRun: 6, workers: [1, 2, 4], concurrency: 10, sleepMs: 20 },
    pipeline: { documents: 200 },
  },
  quick: {
    rounds: 1,
    http: { seconds: 2, warmupSeconds: 1, connections: 50 },
    bulk: { jobs: 6_000, batch: 1_000, inFlight: 2 },
    processing: { jobs: 10_000, oursConcurrency: [256], bullmqConcurrency: [200] },
    latency: { seconds: 2, warmupSeconds: 1, rate: 1_000, idleSamples: 50 },
    memory: { jobs: 5_000 },
    scaleOut: { secondsPerRun: 1.5, workers: [1, 2, 4], concurrency: 10, sleepMs: 20 },
    pipeline: { documents: 20 },
  },
  smoke: {
    rounds: 1,
    http: { seconds: 1, warmupSeconds: 0, connections: 4 },
    bulk: { jobs: 200, batch: 100, inFlight: 1 },
    processing: { jobs: 300, oursConcurrency: [16], bullmqConcurrency: [16] },
    latency: { seconds: 1, warmupSeconds: 0.2, rate: 50, idleSamples: 5 },
    memory: { jobs: 100 },
    scaleOut: { secondsPerRun: 0.5, workers: [1, 2], concurrency: 4, sleepMs: 20 },
    pipeline: { documents: 2 },
  },
};
