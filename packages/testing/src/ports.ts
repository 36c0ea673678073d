import { createServer, type Server } from 'node:net';

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** A port another program holds on `host` (a second worker, another stack) until `holder.close()`. */
export async function takenPort(host = '127.0.0.1'): Promise<{ port: number; holder: Server }> {
  const holder = createServer();
  await new Promise<void>((resolve, reject) => {
    holder.once('error', reject);
    holder.listen(0, host, () => resolve());
  });
  const address = holder.address();
  return { port: typeof address === 'object' && address ? address.port : 0, holder };
}
