import { apiEnvSchema, ConfigError, createLogger, explainListenError, ListenError, loadConfig, logConsoleTo } from '@conveyor/shared';
import closeWithGrace from 'close-with-grace';
import { buildApp } from './app.js';

let config;
try {
  config = loadConfig(apiEnvSchema);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`conveyor api: ${error.message}\n`);
  process.exit(1);
}

const logger = createLogger('api', config.LOG_LEVEL);
logConsoleTo(logger);
const app = await buildApp({ config, logger });

// SIGTERM/SIGINT: stop accepting, let in-flight requests finish, close Redis; a second signal or
// the grace period running out exits at once. Not on 'beforeExit': the loop empties only after
// the app closed itself (a Redis it cannot use), and the exit code it set must stand, not a 0.
let stopping = false;
// Its own words (the grace ran out, a second signal) go to the log as JSON lines too, not to stderr as text.
const graceLogger = {
  error: (what: unknown) => {
    if (what instanceof Error) return app.log.error({ err: what }, 'error while stopping');
    const text = String(what);
    if (text.startsWith('killed by timeout')) return app.log.error(`stopping took longer than SHUTDOWN_GRACE_MS (${config.SHUTDOWN_GRACE_MS} ms): exiting now, with requests unanswered (exit code 1)`);
    app.log.error(`${text} (exit code 1)`);
  },
};
closeWithGrace({ delay: config.SHUTDOWN_GRACE_MS, skip: ['beforeExit'], logger: graceLogger }, async ({ signal, err }) => {
  stopping = true;
  if (err) app.log.error({ err }, 'stopping after an error');
  else app.log.info({ signal }, 'shutting down');
  await app.close();
  // The last line of a clean stop, as a worker's "worker stopped" is: without it, a log that ends
  // at "shutting down" cannot tell a finished stop from one cut short.
  app.log.info('api stopped');
});

// A Redis that answers is checked before the API listens, so one it cannot use (no such database,
// keys of another program) stops it before it says it listens; found so, the API is closing
// already (exit code 1). One that does not answer within a second is waited for while listening:
// requests get 503s and /readyz says why.
const usable = await Promise.race([app.redisPrepared, new Promise<true>((resolve) => setTimeout(resolve, 1_000, true).unref())]);

try {
  if (usable && !stopping) await app.listen({ port: config.PORT, host: config.HOST });
} catch (error) {
  const explained = explainListenError(error as NodeJS.ErrnoException, { what: 'the API', port: config.PORT, host: config.HOST, portSetting: 'PORT', hostSetting: 'HOST' });
  // A setting to change needs no stack trace; anything else keeps it.
  if (explained instanceof ListenError) app.log.fatal({ code: explained.code }, explained.message);
  else app.log.fatal({ err: error }, `could not listen on ${config.HOST}:${config.PORT}: ${(error as Error).message}`);
  process.exit(1);
}
