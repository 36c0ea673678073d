import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import { ProblemError } from '../problems/problem-error.js';
import { BODY_STALLED } from '../problems/raw-answers.js';

/**
 * How long a body holding its place in the budget may send nothing before it is cut (a 408), at
 * most: three sockets that sent the headers of 21 MiB uploads and then nothing held the whole
 * budget, so every upload and batch was refused, for REQUEST_TIMEOUT (5 minutes).
 */
export const MAX_BODY_IDLE_MS = 30_000;

/** Bytes as a person reads them in a problem: 20 MiB, 512 KiB. */
function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${+(bytes / (1024 * 1024)).toFixed(1)} MiB`;
  return `${Math.ceil(bytes / 1024)} KiB`;
}

/**
 * The bytes of large bodies (uploads, batches) one API process reads at once, at most
 * BODY_BUDGET. Such a body is held whole in memory until its jobs are stored, about three times
 * over (the parser's chunks, the buffer, the Redis command): without a limit, ten uploads of 20
 * MiB at once took an API process past 512 MiB, and its container was killed with every request
 * and event stream on it. A request that would pass the budget is refused at once, before its
 * body is read, with a 503 and Retry-After; one request is always let in when nothing else is
 * held, however large, so a budget below the largest body slows uploads down but never refuses
 * them all. A request holds its place from its headers until its answer is sent or its
 * connection closes, whichever comes first; one whose body stops arriving for `idleMs` is cut.
 */
export class BodyBudget {
  #held = 0;
  #requests = 0;

  constructor(
    readonly max: number,
    private readonly idleMs: number,
  ) {}

  /**
   * The onRequest hook of a route whose bodies may be up to `limit` bytes: the request takes
   * its declared Content-Length (the route's limit when it sends none, chunked), capped at the
   * limit: a larger one is refused with a 413 when its body is read.
   */
  hook(limit: number): onRequestHookHandler {
    return (request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void) => {
      const declared = Number(request.headers['content-length']);
      const bytes = Number.isSafeInteger(declared) && declared >= 0 ? Math.min(declared, limit) : limit;
      if (this.#requests > 0 && this.#held + bytes > this.max) {
        done(
          new ProblemError(
            'busy',
            `This API process already holds ${formatBytes(this.#held)} of its BODY_BUDGET (${formatBytes(this.max)}) for the uploads and batches it is reading (each takes its Content-Length from its start), and this request's ${formatBytes(bytes)} would pass it. Nothing was stored: send it again after Retry-After seconds.`,
            { budget_bytes: this.max },
            { 'retry-after': '1' },
          ),
        );
        return;
      }
      this.#held += bytes;
      this.#requests += 1;
      // Given back when the answer is closed: sent, or its connection closed. A request runs only
      // once its answer has the connection (answer-in-turn.ts), so Node closes that answer with it.
      const stopWatching = this.#cutWhenStalled(request);
      reply.raw.once('close', () => {
        this.#held -= bytes;
        this.#requests -= 1;
        stopWatching();
      });
      done();
    };
  }

  /**
   * Cuts the request once its connection has read nothing for `idleMs` before the body is in: the
   * server answers it as it answers a request that timed out (raw-answers.ts), and the answer's
   * close gives its place back.
   */
  #cutWhenStalled(request: FastifyRequest): () => void {
    const socket = request.raw.socket;
    let read = socket.bytesRead;
    let movedAt = Date.now();
    const watch = setInterval(() => {
      if (request.raw.complete || socket.destroyed) return void clearInterval(watch);
      if (socket.bytesRead !== read) {
        read = socket.bytesRead;
        movedAt = Date.now();
      } else if (Date.now() - movedAt >= this.idleMs) {
        clearInterval(watch);
        request.server.server.emit('clientError', Object.assign(new Error(`no body bytes for ${this.idleMs} ms`), { code: BODY_STALLED, idleMs: this.idleMs }), socket);
      }
    }, Math.min(1_000, this.idleMs / 4));
    return () => clearInterval(watch);
  }
}
