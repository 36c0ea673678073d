import { RedisServer } from '@conveyor/testing';
import { Redis } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createRedis } from '../src/index.js';

describe.skipIf(!RedisServer.available())('a command connection', () => {
  let server: RedisServer;
  let observer: Redis;

  beforeAll(async () => {
    server = await RedisServer.start();
    observer = new Redis(server.url);
  });
  afterAll(async () => {
    observer.disconnect();
    await server.stop();
  });

  /** The query-buffer bytes and current command of the connection named `name`, from CLIENT LIST. */
  async function clientState(name: string): Promise<{ qbuf: number; cmd: string; resp: number }> {
    const line = String(await observer.client('LIST')).split('\n').find((entry) => entry.includes(` name=${name} `));
    if (!line) throw new Error(`no client named ${name}`);
    return { qbuf: Number(/ qbuf=(\d+)/.exec(line)![1]), cmd: /cmd=(\S+)/.exec(line)![1]!, resp: Number(/ resp=(\d)/.exec(line)![1]) };
  }

  // The replies every caller reads were written and measured on RESP2; ioredis 6 asks for RESP3 unless told.
  test('speaks RESP2, for every role', async () => {
    const roles = ['command', 'blocking', 'subscriber'] as const;
    const connections = roles.map((role) => createRedis(server.url, { role, name: `conveyor:test:resp:${role}` }));
    try {
      await Promise.all(connections.map((redis) => redis.ping()));
      for (const role of roles) expect({ role, resp: (await clientState(`conveyor:test:resp:${role}`)).resp }).toEqual({ role, resp: 2 });
    } finally {
      connections.forEach((redis) => redis.disconnect());
    }
  });

  // A worker sends its next completions while Redis still runs the last ones: commands that are
  // written only after the previous ones' replies (ioredis's auto-pipelining) cut one worker's
  // throughput by about a third.
  test('writes a command at once, while an earlier one is still waiting for its reply', async () => {
    const name = 'conveyor:test:inflight';
    const redis = createRedis(server.url, { role: 'command', name });
    try {
      await redis.ping();
      // WAIT for a replica that does not exist keeps this connection's first command unanswered for 600 ms.
      const first = redis.wait(1, 600);
      await sleep(100);
      const second = redis.ping();
      await sleep(150);
      const state = await clientState(name);
      expect(state.cmd).toBe('wait');
      // The PING is already in Redis's query buffer, behind the blocked WAIT.
      expect(state.qbuf).toBeGreaterThan(0);
      expect(await first).toBe(0);
      expect(await second).toBe('PONG');
    } finally {
      redis.disconnect();
    }
  });
});
