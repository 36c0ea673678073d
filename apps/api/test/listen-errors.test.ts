import { launchApi, takenPort, type ApiProcess } from '@conveyor/testing';
import { expect, inject, test } from 'vitest';

/**
 * An API that cannot listen says which setting to change (PORT or HOST) in its one fatal line,
 * without a stack trace, and exits 1: Node's own "listen EADDRINUSE" or "getaddrinfo ENOTFOUND"
 * named neither.
 */
async function fatalLine(api: ApiProcess): Promise<Record<string, unknown>> {
  expect(await api.exited, api.describe()).toEqual({ code: 1, signal: null });
  const fatal = api.logs().filter((line) => line['level'] === 60);
  expect(fatal, api.describe()).toHaveLength(1);
  expect(fatal[0], api.describe()).not.toHaveProperty('err');
  return fatal[0]!;
}

test('a taken PORT names PORT', async () => {
  const { port, holder } = await takenPort();
  try {
    const api = await launchApi({ redisUrl: inject('redisUrl'), prefix: 'listen-errors', env: { PORT: String(port), HOST: '127.0.0.1' } });
    expect(await fatalLine(api)).toMatchObject({ code: 'EADDRINUSE', msg: `PORT ${port} is taken on 127.0.0.1 (another program listens there), so the API cannot listen: set PORT to a free port` });
  } finally {
    holder.close();
  }
});

test('a HOST that is no address of this machine names HOST and the usual values', async () => {
  const api = await launchApi({ redisUrl: inject('redisUrl'), prefix: 'listen-errors', env: { HOST: 'no-such-host.invalid' } });
  const fatal = await fatalLine(api);
  expect(fatal['code']).toMatch(/^(ENOTFOUND|EAI_AGAIN)$/);
  expect(fatal['msg']).toMatch(/^HOST no-such-host\.invalid is not an address of this machine \((ENOTFOUND|EAI_AGAIN)\), so the API cannot listen: set HOST to one of its addresses, 0\.0\.0\.0 for all of them or 127\.0\.0\.1 for this machine only$/);
});
