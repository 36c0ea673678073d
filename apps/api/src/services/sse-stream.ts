import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * Most bytes a stream may hold that its client has not taken yet when the next event comes (the
 * stream holds at most this and one event). A client that reads slower than events come (a
 * stalled dashboard, a dead proxy) would otherwise grow the API's memory without end; past this
 * its stream is cut, and EventSource connects again after `retry`.
 */
const MAX_UNSENT_BYTES = 1024 * 1024;

/**
 * Most bytes all of a process's streams may hold unsent together: with many streams open, each
 * may hold its share, down to MIN_UNSENT_BYTES. 500 dashboards a little behind a burst of 3,000
 * jobs held up to 1 MiB each, and the API grew past 2 GB (the Kubernetes manifest gives it 512 MiB).
 */
const MAX_UNSENT_BYTES_IN_ALL = 64 * 1024 * 1024;

/** Least a stream may hold unsent, however many are open: a few hundred events. */
const MIN_UNSENT_BYTES = 64 * 1024;

/** Streams open in this process, which share MAX_UNSENT_BYTES_IN_ALL. */
let openStreams = 0;

/** What one stream may hold unsent while `streams` are open. */
export function unsentLimit(streams: number): number {
  return Math.max(MIN_UNSENT_BYTES, Math.min(MAX_UNSENT_BYTES, Math.floor(MAX_UNSENT_BYTES_IN_ALL / Math.max(streams, 1))));
}

/** The ID of a stream's last event (see SseStream.finish). */
const STREAM_END_ID = 'end';

/** The last event of a stream one of whose events could not be written (see SseStream.#serialize). */
const STREAM_ERROR_EVENT = 'stream-error';

/** Whether this request is an EventSource reconnecting after the stream it followed was finished. */
export function endedBefore(request: FastifyRequest): boolean {
  return request.headers['last-event-id'] === STREAM_END_ID;
}

/**
 * A Server-Sent Events response on a hijacked reply: `send` writes one event, heartbeats (comment
 * lines) keep proxies from closing an idle stream, and `onClose` runs once when either side ends.
 */
export class SseStream {
  #id = 0;
  #closed = false;
  /** Events written since the last flush: they go out in one write (see #write). */
  #pending = '';
  #flushing = false;
  /** What the last write left unsent when it was made, in bytes (see #flush). */
  #lastWrite = 0;
  readonly #heartbeat: NodeJS.Timeout;
  readonly #closers: (() => void)[] = [];

  constructor(
    private readonly reply: FastifyReply,
    heartbeatMs: number,
  ) {
    reply.hijack();
    // Headers hooks set on the reply (CORS) are not sent by a hijacked reply unless written here.
    const set = Object.entries(reply.getHeaders()).filter((header): header is [string, string | number | string[]] => header[1] !== undefined);
    reply.raw.writeHead(200, {
      ...Object.fromEntries(set),
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    reply.raw.write('retry: 3000\n\n');
    openStreams += 1;
    this.#heartbeat = setInterval(() => this.#write(': heartbeat\n\n'), heartbeatMs);
    reply.raw.on('close', () => this.close());
    // A client sends nothing after its request: the end of what it sends is the client leaving
    // (the API answers half-closed connections, see app.ts, so Node no longer closes them here).
    const socket = reply.raw.socket;
    if (socket?.readableEnded) this.close();
    else if (socket) {
      const leave = () => this.close();
      socket.once('end', leave);
      // The connection may carry further requests after this stream: it keeps no listener of ours.
      this.#closers.push(() => socket.off('end', leave));
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  send(event: string, data: unknown): void {
    const text = this.#serialize(event, data);
    if (text !== undefined) this.sendJson(event, text);
  }

  /** `send` of data already written as JSON: many streams sent one event write it once. */
  sendJson(event: string, json: string): void {
    if (this.#closed) return;
    this.#id += 1;
    this.#write(`id: ${this.#id}\nevent: ${event}\ndata: ${json}\n\n`);
  }

  /**
   * Sends the last event, with the ID `end`, and closes the stream. A browser's EventSource
   * connects again after any stream ends, sending that ID as Last-Event-ID: the route answers
   * such a reconnect with 204, which makes EventSource stop (see endedBefore).
   */
  finish(event: string, data: unknown): void {
    const text = this.#serialize(event, data);
    if (text === undefined) return;
    this.#write(`id: ${STREAM_END_ID}\nevent: ${event}\ndata: ${text}\n\n`);
    this.close();
  }

  /**
   * An event's data as JSON. Data that cannot be written (JSON.stringify throws on a value nested
   * too deep, say) ends the stream with a last `stream-error` event instead: the headers are sent,
   * so there is no other answer to give, and a stream left open after it would send nothing but
   * heartbeats while holding its MAX_EVENT_STREAMS place for ever.
   */
  #serialize(event: string, data: unknown): string | undefined {
    if (this.#closed) return undefined;
    try {
      return JSON.stringify(data);
    } catch (error) {
      this.fail(`The "${event}" event could not be written as JSON`, error);
      return undefined;
    }
  }

  /**
   * Ends the stream after something went wrong once its headers were sent: a last event,
   * `stream-error` with the ID `end` (so an EventSource stops, as after `finish`), says what.
   */
  fail(what: string, error: unknown): void {
    if (this.#closed) return;
    const reason = error instanceof Error ? error.message : String(error);
    this.reply.log.error({ err: error }, `${what}; its event stream is ended`);
    const detail = `${what} (${reason}); the stream ends here. Read the job or queue with a plain GET instead.`;
    this.#write(`id: ${STREAM_END_ID}\nevent: ${STREAM_ERROR_EVENT}\ndata: ${JSON.stringify({ detail })}\n\n`);
    this.close();
  }

  onClose(closer: () => void): void {
    if (this.#closed) closer();
    else this.#closers.push(closer);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    // The last events (a job's terminal one) go out, however much is unread.
    if (this.#pending !== '') this.reply.raw.write(this.#pending);
    this.#pending = '';
    openStreams -= 1;
    clearInterval(this.#heartbeat);
    for (const closer of this.#closers.splice(0)) closer();
    this.reply.raw.end();
  }

  /**
   * Events written in one turn of the event loop (Redis hands the subscriber many at once) go out
   * in one write at its end: one system call per stream, not one per event for every stream.
   */
  #write(text: string): void {
    if (this.#closed) return;
    this.#pending += text;
    if (!this.#flushing) {
      this.#flushing = true;
      setImmediate(() => this.#flush());
    }
  }

  /**
   * Writes the turn's events, unless the client left more than its share unread of what earlier
   * turns wrote before the last write: then the stream is cut. The last write is not counted: it
   * may be one event larger than the share (a job's state with a 1 MiB input), or a batch's burst
   * of events, which a client reading at full speed has not had the time to take yet (counted,
   * they cut such clients, and an EventSource fetched its state again every 3 s and never saw the
   * next event). So a stream holds at most its share and one write.
   */
  #flush(): void {
    this.#flushing = false;
    if (this.#closed || this.#pending === '') return;
    const raw = this.reply.raw;
    const unread = raw.writableLength - this.#lastWrite;
    if (unread > unsentLimit(openStreams)) {
      this.reply.log.warn({ unsent_bytes: raw.writableLength, open_streams: openStreams }, 'an event stream client reads too slowly; its stream is cut');
      this.#pending = '';
      this.close();
      raw.destroy();
      return;
    }
    const before = raw.writableLength;
    raw.write(this.#pending);
    this.#pending = '';
    this.#lastWrite = raw.writableLength - before;
  }
}
