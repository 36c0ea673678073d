import { aclAdvice, describeForeignKeys, findForeignKeys, foreignKeysAmong, foreignKeysRemedy, isAuthRefusalText, isConnectionError, isRefusedForNow, outcomeUnknown, queueOfJobId, QueueKeys, type ForeignKey, type Pipeline, type RedisClient } from '@conveyor/shared';
import { ProblemError } from './problem-error.js';

/**
 * Redis failures a client can do nothing about but wait: the connection is down or slow,
 * Redis is loading, read-only after a failover, out of memory or unable to write to disk. They become a 503 with
 * Retry-After. Any other Redis reply error is a bug and stays a 500.
 *
 * What the 503 may promise depends on where the command got to. Refused before it was sent (no
 * connection) or refused by Redis (a reply such as LOADING or OOM): nothing was written. Sent but
 * unanswered (a timeout, or the connection lost while it was out): Redis may still run it, so the
 * answer says the outcome is not known instead of claiming nothing was written (see outcomeUnknown).
 */
const RETRY_AFTER = { 'retry-after': '1' };

/**
 * How a request that changes something can be sent again safely: `keyed` when it carried
 * idempotency keys (sending it again as it was is safe), or the advice for a route that takes
 * them; neither for a route that takes none (pause, cancel, retry).
 */
export interface Resending {
  keyed?: boolean;
  advice?: string;
}

/**
 * `readOnly`: the request changes nothing (GET, HEAD), so an unanswered one is simply sent again.
 * `resending`: what an unanswered request that changes something is told (see Resending), asked
 * for only then. `connectionError`: the last error of a connection that is down (/readyz's), told
 * only when it is Redis refusing the login: other ones name addresses the client need not see.
 */
export function asRedisUnavailable(error: unknown, readOnly = false, resendingOf: () => Resending = () => ({}), connectionError?: string): ProblemError | undefined {
  if (!(error instanceof Error)) return undefined;
  // A read has nothing to write: it is told to ask again.
  const outcome = readOnly ? 'Send the request again after Retry-After.' : 'Nothing was written.';
  if (error.name === 'ReplyError') {
    if (!isRefusedForNow(error)) return undefined;
    return new ProblemError('service-unavailable', `${refusalDetail(error.message)} ${outcome}`, {}, RETRY_AFTER);
  }
  if (!isConnectionError(error)) return undefined;
  // Redis answers, and refuses the API's login: not a network fault to look for.
  if (!outcomeUnknown(error) && connectionError !== undefined && isAuthRefusalText(connectionError)) {
    const fix = connectionError.startsWith('NOAUTH') ? 'it asks for a password, and REDIS_URL gives none' : 'the user and password in REDIS_URL are not ones it takes';
    return new ProblemError('service-unavailable', `Redis refuses the API's login (${connectionError.slice(0, 200)}): ${fix}. ${outcome}`, {}, RETRY_AFTER);
  }
  if (!outcomeUnknown(error)) return new ProblemError('service-unavailable', `Redis is unreachable (${said(error)}). ${outcome}`, {}, RETRY_AFTER);
  if (readOnly) return new ProblemError('service-unavailable', `Redis did not answer (${said(error)}). Send the request again after Retry-After.`, {}, RETRY_AFTER);
  const unknown = `Redis did not answer (${said(error)}), so whether this request took effect is not known`;
  const resending = resendingOf();
  const next = resending.keyed
    ? 'send it again as it was after Retry-After: its idempotency keys store each job once.'
    : `look before sending it again${resending.advice ? `, or ${resending.advice}` : ''}.`;
  return new ProblemError('service-unavailable', `${unknown}: ${next}`, {}, RETRY_AFTER);
}

/**
 * For a submission without idempotency keys whose outcome is not known: the job IDs it was sent
 * with, so the client can look them up rather than send the jobs again and perhaps twice.
 */
export function submissionOutcomeUnknown(error: Error, jobIds: readonly string[]): ProblemError {
  const [first] = jobIds;
  const which = jobIds.length === 1 ? `the job was stored. It was sent as ${first}` : `the ${jobIds.length} jobs were stored (all or none). They were sent as ${first} and the others in job_ids`;
  return new ProblemError(
    'service-unavailable',
    `Redis did not answer (${said(error)}), so it is not known whether ${which}: GET /jobs/${first} finds it if it was. Send again only if that answers 404, or give it an idempotency key (the Idempotency-Key header; in a batch, each job's idempotency_key) so that sending again is safe.`,
    jobIds.length === 1 ? { job_id: first } : { job_ids: jobIds },
    RETRY_AFTER,
  );
}

/** What the client is told of a refusal: the common ones in words, the others as Redis put them. */
function refusalDetail(message: string): string {
  if (message.startsWith('OOM')) return 'Redis is out of memory and refuses writes.';
  if (message.startsWith('MISCONF')) return 'Redis cannot write its data to disk (a full or failing disk, see its log) and refuses writes until it can.';
  return `Redis refused the request for now (${message}).`;
}

/**
 * What the client is told Redis said. A cluster client's give-up names the node it last tried
 * ("MOVED 14836 10.0.0.7:6379"): internal addresses stay in the logs. A command refused for a
 * lost connection is said in words, not in the client library's.
 */
function said(error: Error): string {
  if (/^Too many Cluster redirections/.test(error.message)) return "no node of the Redis Cluster could serve this queue's slot; a failover may be under way";
  // ioredis's words for a command refused while its connection is down; /readyz says why it is.
  if (/Stream isn't writeable|enableOfflineQueue/.test(error.message)) return 'the API has no connection to Redis and is reconnecting; GET /readyz says why';
  // And its words for a command whose connection was lost while it was out.
  if (/Reached the max retries per request limit/.test(error.message)) return 'the connection to Redis was lost while the request was out; the API is reconnecting, and GET /readyz says why';
  return error.message;
}

/** What a request is about, where a WRONGTYPE it met most likely comes from: its job, or its queue. */
export interface RequestSubject {
  jobId?: string | undefined;
  queue?: string | undefined;
}

/**
 * A WRONGTYPE from Redis: a key of the queues holds another program's value. Not the client's
 * doing, and sending again helps only once an operator acts, so a 503 with a longer Retry-After
 * that names the key: the request's job record and its queue's keys are looked at to find it
 * (the API and workers refuse to start on such keys, so it was written since), all queues' only
 * when the request names none or its own hold none (a key of another queue was not what
 * failed). A request that changes something may have failed partway, as a script stops at its
 * first refused command.
 */
export async function foreignKeyProblem(redis: RedisClient, prefix: string, queues: readonly Pipeline[], error: Error, readOnly: boolean, subject: RequestSubject = {}): Promise<ProblemError> {
  const { jobId } = subject;
  const queue = jobId === undefined ? subject.queue : queueOfJobId(jobId);
  const own = queues.filter((pipeline) => pipeline.name === queue || pipeline.partition?.queue === queue);
  // The job's record, when the job's queue (or partition) is served.
  const jobQueue = own.find((pipeline) => pipeline.name === queue);
  const record = jobId !== undefined && jobQueue ? [[new QueueKeys(prefix, jobQueue.name).job(jobId), 'hash'] as const] : [];
  const found = await Promise.all([foreignKeysAmong(redis, record), findForeignKeys(redis, prefix, own)])
    .then(async ([ofRecord, ofQueue]) => {
      const near = [...ofRecord, ...ofQueue];
      return near.length > 0 ? near : findForeignKeys(redis, prefix, queues);
    })
    .catch((): ForeignKey[] => []);
  const outcome = partwayOutcome(readOnly);
  return new ProblemError(
    'redis-key-conflict',
    `Redis refused a command: ${describeForeignKeys(found, error)}. Another program writes under KEY_PREFIX "${prefix}"; until ${foreignKeysRemedy(found)}, requests that use ${found.length > 1 ? 'them' : 'it'} fail. ${outcome}`,
    {},
    { 'retry-after': '10' },
  );
}

/**
 * A command Redis refused to the API's user (ACLs). Found at start for the keys (the API stops),
 * but not for a channel (a broadcast), nor for a user whose rights were changed since: an
 * operator must act, as for a WRONGTYPE, so the same longer Retry-After.
 */
export function permissionProblem(error: Error, prefix: string, readOnly: boolean): ProblemError {
  return new ProblemError(
    'service-unavailable',
    `Redis refused a command to the API's Redis user (${error.message}); requests that need it fail until an operator acts: ${aclAdvice(prefix)}. ${partwayOutcome(readOnly)}`,
    {},
    { 'retry-after': '10' },
  );
}

/** What a request refused by an operator's problem may have done: a script stops at its first refused command, its writes before it kept. */
function partwayOutcome(readOnly: boolean): string {
  return readOnly ? 'Nothing was changed.' : 'This request may have failed partway: look (GET the job) before sending it again.';
}
