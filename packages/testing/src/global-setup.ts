import type { TestProject } from 'vitest/node';
import { provideTestRedis } from './test-redis.js';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

/** One Redis for the whole run; each test file works under its own key prefix. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const redis = await provideTestRedis();
  project.provide('redisUrl', redis.url);
  return () => redis.stop();
}
