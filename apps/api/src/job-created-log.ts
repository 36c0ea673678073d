import type { Logger } from '@conveyor/shared';
import type { FastifyBaseLogger } from 'fastify';
import type { Submitted } from './services/job-service.js';

/**
 * The API's part of the one line per job transition: at `debug`, a line for each job a request
 * created, with its ID and first status (queued or delayed). The workers log the rest. At the
 * default level it returns at once: a line per enqueued job would cost the busiest route.
 */
export function logCreated(log: FastifyBaseLogger, submitted: readonly Submitted[]): void {
  // A pino logger, or a LazyRequestLogger that answers without making its child.
  if (!(log as Logger).isLevelEnabled('debug')) return;
  for (const { jobId, status, created } of submitted) if (created) log.debug({ job_id: jobId, status }, 'job created');
}
