import { allServedQueues, type ApiConfig, type Logger } from '@conveyor/shared';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type RawServerDefault } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { answerInTurn } from './answer-in-turn.js';
import { CrossOriginPolicy } from './cross-origin.js';
import { continueWhenRead } from './expect-continue.js';
import { lingerOnClose } from './lingering-close.js';
import { LazyRequestLogger } from './lazy-request-logger.js';
import corsPlugin from './plugins/external/cors.js';
import swaggerPlugin from './plugins/external/swagger.js';
import adminAuthPlugin from './plugins/admin-auth.js';
import closingPlugin from './plugins/closing.js';
import allowedHostsPlugin from './plugins/allowed-hosts.js';
import asteriskTargetPlugin from './plugins/asterisk-target.js';
import bodyCodingsPlugin from './plugins/body-codings.js';
import crossSiteWritesPlugin from './plugins/cross-site-writes.js';
import eventHubPlugin from './plugins/event-hub.js';
import hostHeaderPlugin from './plugins/host-header.js';
import jobsPlugin from './plugins/jobs.js';
import jsonBodyPlugin from './plugins/json-body.js';
import metricsPlugin from './plugins/metrics.js';
import problemsPlugin, { frameworkErrorAnswer } from './plugins/problems.js';
import { clientErrorAnswer, connectAnswer, expectationAnswer, trackAnswers, type RawAnswerCounter } from './problems/raw-answers.js';
import redisPlugin from './plugins/redis.js';
import adminRoutes from './routes/admin.js';
import dashboardRoutes from './routes/dashboard.js';
import deadLetterRoutes from './routes/dead-letters.js';
import documentsRoutes from './routes/documents.js';
import eventsRoutes from './routes/events.js';
import healthRoutes from './routes/health.js';
import historyRoutes from './routes/history.js';
import jobsRoutes from './routes/jobs.js';
import modelsRoutes from './routes/models.js';
import problemsRoutes from './routes/problems.js';
import queueControlRoutes from './routes/queue-control.js';
import queueStatsRoutes from './routes/queue-stats.js';
import { requestId } from './request-id.js';
import { BodyBudget, MAX_BODY_IDLE_MS } from './services/body-budget.js';
import { ROUTER_OPTIONS } from './router-options.js';

export type App = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, FastifyBaseLogger, ZodTypeProvider>;

export interface AppOptions {
  config: ApiConfig;
  logger: Logger;
}

/**
 * Builds the API without listening: external plugins, then Conveyor's own, then routes.
 * `server.ts` listens; tests call this and use `app.inject`.
 */
export async function buildApp({ config, logger }: AppOptions): Promise<App> {
  const crossOrigin = new CrossOriginPolicy(config.CORS_ORIGINS);
  // Answers Node gives before any route count as the others do (the metrics plugin comes later).
  const countRawAnswer: RawAnswerCounter = (method, status) => app.metrics?.countUnrouted(method, status);
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    bodyLimit: config.MAX_BODY_BYTES,
    // A request whose headers or body do not arrive in time gets a 408 and its connection closed;
    // Node looks for such requests every connectionsCheckingInterval.
    requestTimeout: config.REQUEST_TIMEOUT,
    // A connection on which nothing moves for twice that (a client that stopped reading its
    // answer, which Node would otherwise keep, with the answer, for ever) is closed. Event streams
    // write a heartbeat every SSE_HEARTBEAT, so they stay.
    connectionTimeout: 2 * Math.max(config.REQUEST_TIMEOUT, config.SSE_HEARTBEAT),
    // requireHostHeader: Node would answer an HTTP/1.1 request without Host with a bare 400; the
    // host-header plugin answers it with a problem instead.
    http: { headersTimeout: Math.min(60_000, config.REQUEST_TIMEOUT), connectionsCheckingInterval: Math.min(30_000, config.REQUEST_TIMEOUT / 4), requireHostHeader: false },
    // Per-request lines go out at debug level from the onResponse hook below.
    logController: new LogController({ disableRequestLogging: true }),
    // The closing plugin answers requests that arrive while closing, with a problem.
    return503OnClosing: false,
    requestIdHeader: false,
    genReqId: requestId,
    childLoggerFactory: LazyRequestLogger.factory,
    routerOptions: ROUTER_OPTIONS,
    frameworkErrors: frameworkErrorAnswer(crossOrigin),
    clientErrorHandler: clientErrorAnswer(crossOrigin, countRawAnswer),
  }).withTypeProvider<ZodTypeProvider>();
  // A client may half-close its connection once its requests are sent (`nc -N`, some HTTP/1.0
  // clients). Node then drops every answer not yet written: a POST /jobs stored its job and said
  // nothing, so a client that tried again stored it twice. With this (Node's own switch, which
  // http.Server leaves off) the answers are written, then the connection is closed. Event
  // streams end at the client's half-close themselves (SseStream).
  (app.server as typeof app.server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
  // Pipelined requests run in turn, and not at all behind an answer that closes the connection.
  answerInTurn(app.server);
  // Requests Node answers itself, before Fastify sees them: with a bare 417, no answer at all, or
  // a 100 Continue to a body the route may refuse unread.
  app.server.on('checkExpectation', expectationAnswer(crossOrigin, countRawAnswer));
  app.server.on('checkContinue', continueWhenRead(app.server));
  app.server.on('connect', connectAnswer(countRawAnswer));
  // So that bad bytes after a request are answered after it (clientErrorAnswer).
  app.server.on('request', trackAnswers);
  // A body refused unread (a 413 on its Content-Length) is read on after the answer, so the
  // client still sending it reads the answer instead of a reset.
  lingerOnClose(app.server);
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // JSON and multipart only: a text/plain body gets a 415 that names the right type.
  app.removeContentTypeParser('text/plain');

  await app.register(problemsPlugin, {
    bodyBytes: config.MAX_BODY_BYTES,
    documentBytes: config.MAX_DOCUMENT_BYTES,
    adminEnabled: config.ADMIN_TOKEN !== undefined,
    keyPrefix: config.KEY_PREFIX,
    queues: allServedQueues(config.QUEUE_PARTITIONS),
  });
  await app.register(corsPlugin, { policy: crossOrigin });
  // After CORS, so a page on an allowed origin can read its problem.
  await app.register(closingPlugin);
  await app.register(hostHeaderPlugin);
  await app.register(allowedHostsPlugin, { hosts: config.ALLOWED_HOSTS });
  await app.register(asteriskTargetPlugin);
  await app.register(crossSiteWritesPlugin, { policy: crossOrigin });
  await app.register(bodyCodingsPlugin);
  await app.register(jsonBodyPlugin);
  await app.register(swaggerPlugin);
  await app.register(redisPlugin, { config });
  await app.register(metricsPlugin, { config });
  await app.register(jobsPlugin, { config });
  await app.register(eventHubPlugin, { config });
  await app.register(adminAuthPlugin, { config });

  if (logger.isLevelEnabled('debug')) {
    app.addHook('onResponse', (request, reply, done) => {
      request.log.debug({ method: request.method, url: request.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
      done();
    });
  }

  // Uploads and batches share one budget of bytes held at once.
  // A stalled body is cut before REQUEST_TIMEOUT would: after half of it, 30 s at most.
  const bodyBudget = new BodyBudget(config.BODY_BUDGET, Math.min(MAX_BODY_IDLE_MS, config.REQUEST_TIMEOUT / 2));
  await app.register(healthRoutes);
  await app.register(jobsRoutes, { maxBatchBytes: config.MAX_BATCH_BYTES, bodyBudget });
  await app.register(modelsRoutes);
  await app.register(documentsRoutes, { maxDocumentBytes: config.MAX_DOCUMENT_BYTES, bodyBudget });
  await app.register(deadLetterRoutes);
  await app.register(eventsRoutes, { heartbeatMs: config.SSE_HEARTBEAT });
  await app.register(adminRoutes, { config });
  await app.register(queueControlRoutes, { config });
  await app.register(queueStatsRoutes);
  await app.register(historyRoutes);
  await app.register(dashboardRoutes, { adminEnabled: config.ADMIN_TOKEN !== undefined });
  await app.register(problemsRoutes);
  return app;
}
