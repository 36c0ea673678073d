import { Redis } from 'ioredis';
import { RedisServer } from './redis-server.js';
import { waitFor } from './wait.js';

const SLOTS = 16_384;

/**
 * A real Redis Cluster of `redis-server` child processes on 127.0.0.1, masters only, the hash
 * slots split evenly between them (as `redis-cli --cluster create` would, without needing it).
 */
export class RedisCluster {
  private constructor(readonly nodes: RedisServer[]) {}

  static async start(masters = 3): Promise<RedisCluster> {
    const nodes = await Promise.all(Array.from({ length: masters }, () => RedisServer.start({ extraArgs: ['--cluster-enabled', 'yes', '--cluster-node-timeout', '2000'] })));
    const cluster = new RedisCluster(nodes);
    const clients = nodes.map((node) => new Redis(node.port, '127.0.0.1'));
    try {
      const share = Math.ceil(SLOTS / masters);
      await Promise.all(clients.map((client, i) => client.call('CLUSTER', 'ADDSLOTSRANGE', i * share, Math.min(SLOTS, (i + 1) * share) - 1)));
      for (const node of nodes.slice(1)) await clients[0]!.call('CLUSTER', 'MEET', '127.0.0.1', node.port);
      await waitFor(
        async () => {
          const states = await Promise.all(clients.map((client) => client.call('CLUSTER', 'INFO') as Promise<string>));
          return states.every((info) => /cluster_state:ok/.test(info) && new RegExp(`cluster_known_nodes:${masters}\\b`).test(info));
        },
        `a Redis Cluster of ${masters} nodes`,
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

  /** A seed URL for a cluster client: any node leads to the rest. */
  get url(): string {
    return this.nodes[0]!.url;
  }

  /** The node serving a key's hash slot. */
  async nodeOf(key: string): Promise<RedisServer> {
    const client = new Redis(this.nodes[0]!.port, '127.0.0.1');
    try {
      const slot = (await client.call('CLUSTER', 'KEYSLOT', key)) as number;
      const share = Math.ceil(SLOTS / this.nodes.length);
      return this.nodes[Math.floor(slot / share)]!;
    } finally {
      client.disconnect();
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.stop()));
  }
}
