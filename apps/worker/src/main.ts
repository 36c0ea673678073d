import { ConfigError, createLogger, ListenError, loadConfig, logConsoleTo, permissionRefusal, UnusableRedisError, workerEnvSchema } from '@conveyor/shared';
import { Worker, WorkerStopped } from './worker.js';

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

let config;
try {
  config = loadConfig(workerEnvSchema);
} catch (error) {
  if (error instanceof ConfigError) fail(`conveyor worker: ${error.message}`);
  throw error;
}

const logger = createLogger('worker', config.LOG_LEVEL);
logConsoleTo(logger);
let worker: Worker;
try {
  worker = new Worker(config, logger);
} catch (error) {
  fail(`conveyor worker: ${(error as Error).message}`);
}

let stopping = false;
const shutdown = (signal: string) => {
  if (stopping) {
    logger.warn({ signal }, 'second signal: exiting now');
    process.exit(1);
  }
  stopping = true;
  logger.info({ signal }, 'shutting down');
  worker
    .stop(config.SHUTDOWN_GRACE_MS)
    .then(() => process.exit(0))
    .catch((error: Error) => {
      logger.error({ err: error }, 'shutdown failed');
      process.exit(1);
    });
};
// Another process took this worker's consumer name: it stops at once (its jobs are that one's
// now), and exits 1 so that whatever runs it starts it again, to wait for its name.
worker.onNameLost((message) => {
  if (stopping) return;
  stopping = true;
  logger.fatal({ consumer: worker.consumer }, message);
  void worker.stop(0).finally(() => process.exit(1));
});
// The Redis it reconnected to cannot be used as configured: it drains and exits 1, as a start on it would have.
worker.onRedisUnusable((error) => {
  if (stopping) return;
  stopping = true;
  logger.fatal({ code: error.code }, `Redis is not usable as configured; stopping: ${error.message}`);
  void worker.stop(config.SHUTDOWN_GRACE_MS).finally(() => process.exit(1));
});
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

worker.start().catch((thrown: Error) => {
  // Told to stop while it started: the shutdown under way exits, whatever the start ran into.
  if (thrown instanceof WorkerStopped || stopping) return;
  // A user without Conveyor's keys is told what it lacks, not only Redis's NOPERM.
  const error = permissionRefusal(thrown, config.KEY_PREFIX) ?? thrown;
  // A setting or a Redis to change needs no stack trace; anything else keeps it.
  const known = error instanceof UnusableRedisError || error instanceof ListenError;
  logger.fatal(known ? { code: error.code } : { err: error }, `worker could not start: ${error.message}`);
  process.exit(1);
});
