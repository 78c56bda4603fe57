import type { TestProject } from 'vitest/node';
import { startRedisServer } from './redis-server.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

/** One redis-server for the whole run; each test isolates itself with a unique key prefix. */
export default async function setup(project: TestProject) {
  const server = await startRedisServer();
  project.provide('redisUrl', server.url);
  return () => server.stop();
}
