import { Redis } from 'ioredis';
import { freePort } from './ports.js';
import { RedisServer } from './redis-server.js';
import { TcpProxy } from './tcp-proxy.js';
import { waitFor } from './wait.js';

const SLOTS = 16_384;

/**
 * A real Redis Cluster of `redis-server` child processes on 127.0.0.1: `masters` primaries with
 * the hash slots split evenly between them (as `redis-cli --cluster create` would, without
 * needing it), and `replicasPerMaster` replicas of each. Nodes time out after 2 s, so a replica
 * takes over from a primary that died within a few seconds.
 *
 * With `proxied`, each node announces the port of a TcpProxy in front of it, so every client
 * connection (those the cluster clients open from the slot map too) goes through a proxy that a
 * fault test can silence. The nodes' own bus stays direct.
 */
export class RedisCluster {
  private constructor(
    readonly nodes: RedisServer[],
    readonly proxies: TcpProxy[],
  ) {}

  static async start(masters = 3, replicasPerMaster = 0, { proxied = false } = {}): Promise<RedisCluster> {
    const count = masters * (1 + replicasPerMaster);
    // The cluster bus port is set too: by default it is the port + 10000, past 65535 for a free
    // port above 55535 (a third of the ephemeral range here), where redis-server will not start.
    const busPorts: number[] = [];
    const ports: number[] = [];
    // Proxies are placed first (the nodes announce them) and pointed at their node once it has a port.
    const proxies = proxied ? await Promise.all(Array.from({ length: count }, () => TcpProxy.start(0))) : [];
    const started = await Promise.allSettled(
      Array.from({ length: count }, (_, i) =>
        RedisServer.startOnFreePorts(async () => {
          [ports[i], busPorts[i]] = [await freePort(), await freePort()];
          proxies[i]?.retarget(ports[i]!);
          const announce = proxied ? ['--cluster-announce-ip', '127.0.0.1', '--cluster-announce-port', String(proxies[i]!.port)] : [];
          return { port: ports[i]!, extraArgs: ['--cluster-enabled', 'yes', '--cluster-node-timeout', '2000', '--cluster-port', String(busPorts[i]!), ...announce] };
        }),
      ),
    );
    const nodes = started.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []));
    const failed = started.find((outcome) => outcome.status === 'rejected');
    if (failed) {
      // The nodes that did start are stopped, not left running after the test.
      await Promise.all([...nodes.map((node) => node.stop()), ...proxies.map((proxy) => proxy.stop())]);
      throw failed.reason;
    }
    const cluster = new RedisCluster(nodes, proxies);
    const clients = nodes.map((node) => new Redis(node.port, '127.0.0.1'));
    try {
      const share = Math.ceil(SLOTS / masters);
      await Promise.all(clients.slice(0, masters).map((client, i) => client.call('CLUSTER', 'ADDSLOTSRANGE', i * share, Math.min(SLOTS, (i + 1) * share) - 1)));
      for (const [i, node] of nodes.entries()) if (i > 0) await clients[0]!.call('CLUSTER', 'MEET', '127.0.0.1', node.port, busPorts[i]!);
      const known = (info: string) => new RegExp(`cluster_known_nodes:${count}\\b`).test(info);
      await waitFor(async () => (await Promise.all(clients.map((client) => client.call('CLUSTER', 'INFO') as Promise<string>))).every(known), `${count} nodes to know each other`, 20_000);
      const ids = await Promise.all(clients.map((client) => client.call('CLUSTER', 'MYID') as Promise<string>));
      await Promise.all(clients.slice(masters).map((client, i) => client.call('CLUSTER', 'REPLICATE', ids[i % masters]!)));
      await waitFor(
        async () => {
          const states = await Promise.all(clients.map((client) => client.call('CLUSTER', 'INFO') as Promise<string>));
          const links = await Promise.all(clients.slice(masters).map((client) => client.info('replication')));
          return states.every((info) => /cluster_state:ok/.test(info)) && links.every((info) => /master_link_status:up/.test(info));
        },
        `a Redis Cluster of ${masters} primaries and ${count - masters} replicas`,
        20_000,
      );
    } catch (error) {
      await cluster.stop();
      throw error;
    } finally {
      clients.forEach((client) => client.disconnect());
    }
    return cluster;
  }

  /** A seed URL for a cluster client: any node leads to the rest (through its proxy when proxied). */
  get url(): string {
    return (this.proxies[0] ?? this.nodes[0]!).url;
  }

  /** The primary serving a key's hash slot now, as `via` (any live node) sees it. */
  async nodeOf(key: string, via: RedisServer = this.nodes[0]!): Promise<RedisServer> {
    const client = new Redis(via.port, '127.0.0.1');
    try {
      const slot = (await client.call('CLUSTER', 'KEYSLOT', key)) as number;
      const ranges = (await client.call('CLUSTER', 'SLOTS')) as [number, number, [string, number, ...unknown[]], ...unknown[]][];
      const range = ranges.find(([from, to]) => slot >= from && slot <= to);
      const port = range?.[2][1];
      const node = this.nodes.find((each, i) => each.port === port || this.proxies[i]?.port === port);
      if (!node) throw new Error(`no node serves slot ${slot} of ${key}`);
      return node;
    } finally {
      client.disconnect();
    }
  }

  /** The replicas of a primary. */
  async replicasOf(primary: RedisServer): Promise<RedisServer[]> {
    const client = new Redis(primary.port, '127.0.0.1');
    try {
      const lines = ((await client.info('replication')).match(/^slave\d+:.*$/gm) ?? []) as string[];
      const ports = lines.map((line) => Number(/port=(\d+)/.exec(line)?.[1]));
      return this.nodes.filter((node) => ports.includes(node.port));
    } finally {
      client.disconnect();
    }
  }

  async stop(): Promise<void> {
    await Promise.all([...this.nodes.map((node) => node.stop()), ...this.proxies.map((proxy) => proxy.stop())]);
  }
}
