export * from './ports.js';
export * from './wait.js';
export * from './redis-server.js';
export * from './test-redis.js';
export * from './processes.js';
export * from './fixtures.js';
export * from './script-args.js';
export * from './job-status.js';
