import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy to a Redis on 127.0.0.1, standing in for the one address clients of a managed Redis
 * use, for failures of what is behind it:
 * - `silence()`: every connection open at that moment carries nothing more in either direction
 *   while staying open, as one does when its peer vanished without closing it (a failed-over node,
 *   a NAT that forgot it). Connections made afterwards are carried as usual.
 * - `silenceOn(...markers)`: the first connection to send any of `markers` goes silent as it
 *   sends it (the command never arrives): a node lost while that command was on its way.
 * - `silenceAfter(...markers)`: the same, except that what the client sends still arrives (the
 *   command runs) and nothing comes back: a connection lost while the reply was on its way.
 * - `retarget(port)`: connections made from now on go to another server (after a failover the
 *   address leads to the new primary); open ones stay with the old.
 */
export class TcpProxy {
  readonly #pairs = new Set<[Socket, Socket]>();
  readonly #silenced = new WeakSet<Socket>();
  readonly #silencedPairs: [Socket, Socket][] = [];
  #tripwire: { markers: Buffer[]; deliver: boolean; tripped: () => void } | undefined;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private targetPort: number,
  ) {}

  static async start(targetPort: number): Promise<TcpProxy> {
    let proxy!: TcpProxy;
    const server = createServer((client) => proxy.#carry(client, proxy.targetPort));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    proxy = new TcpProxy(server, (server.address() as { port: number }).port, targetPort);
    return proxy;
  }

  retarget(targetPort: number): void {
    this.targetPort = targetPort;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Connections open now carry nothing more, and are never closed by this side. */
  silence(): number {
    const count = this.#pairs.size;
    for (const pair of [...this.#pairs]) this.#silencePair(pair);
    return count;
  }

  /** This connection carries nothing more in either direction, and stays open. */
  #silencePair(pair: [Socket, Socket]): void {
    for (const socket of pair) this.#silenced.add(socket);
    this.#pairs.delete(pair);
    this.#silencedPairs.push(pair);
  }

  /** Resolves when the first connection that sends one of `markers` (after this call) has gone silent. */
  silenceOn(...markers: string[]): Promise<void> {
    return this.#setTripwire(markers, false);
  }

  /** Resolves when the first connection that sends one of `markers` (after this call) carries replies no more. */
  silenceAfter(...markers: string[]): Promise<void> {
    return this.#setTripwire(markers, true);
  }

  #setTripwire(markers: string[], deliver: boolean): Promise<void> {
    return new Promise((resolve) => (this.#tripwire = { markers: markers.map((marker) => Buffer.from(marker)), deliver, tripped: resolve }));
  }

  async stop(): Promise<void> {
    for (const pair of [...this.#pairs, ...this.#silencedPairs]) for (const socket of pair) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  #carry(client: Socket, targetPort: number): void {
    const upstream = connect(targetPort, '127.0.0.1');
    const pair: [Socket, Socket] = [client, upstream];
    this.#pairs.add(pair);
    const forward = (from: Socket, to: Socket) => {
      from.on('data', (chunk: Buffer) => {
        const tripwire = this.#tripwire;
        if (from === client && tripwire?.markers.some((marker) => chunk.includes(marker))) {
          this.#tripwire = undefined;
          if (tripwire.deliver) this.#silenced.add(upstream);
          else this.#silencePair(pair);
          tripwire.tripped();
        }
        if (!this.#silenced.has(from)) to.write(chunk);
      });
      from.on('error', () => to.destroy());
      from.on('close', () => {
        this.#pairs.delete(pair);
        if (!this.#silenced.has(from)) to.destroy();
      });
    };
    forward(client, upstream);
    forward(upstream, client);
  }
}
