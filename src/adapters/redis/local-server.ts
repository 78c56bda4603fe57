import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { connect } from 'node:net';
import { resolve } from 'node:path';
import type { Logger } from '../logging/logger.ts';

const answers = (host: string, port: number): Promise<boolean> =>
  new Promise((done) => {
    const socket = connect({ host, port });
    socket.setTimeout(500);
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
    socket.once('timeout', () => {
      socket.destroy();
      done(false);
    });
  });

const waitFor = async (host: string, port: number, ms: number) => {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await answers(host, port)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
};

/**
 * For a developer's first run: when no Redis is configured and none answers on 127.0.0.1:6379, start a
 * local redis-server with an append-only file in `dataDir`. Returns the child to stop at shutdown, or null
 * when an existing Redis is used.
 */
export const ensureLocalRedis = async (dataDir: string, log: Logger): Promise<ChildProcess | null> => {
  if (await answers('127.0.0.1', 6379)) return null;
  if (spawnSync('redis-server', ['--version']).error) {
    throw new Error(
      'no Redis answers on 127.0.0.1:6379 and no redis-server binary was found: install one ' +
        '(apt-get install redis-server, brew install redis) or set REDIS_URL to a Redis you run',
    );
  }
  const dir = resolve(dataDir);
  mkdirSync(dir, { recursive: true });
  const child = spawn(
    'redis-server',
    [
      '--port',
      '6379',
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
      '--save',
      '',
    ],
    { stdio: 'ignore' },
  );
  if (!(await waitFor('127.0.0.1', 6379, 5000))) {
    child.kill();
    throw new Error(`started redis-server in ${dir} but it did not answer on 127.0.0.1:6379 within 5 s`);
  }
  log.info(
    { pid: child.pid, dir, port: 6379 },
    'started a local redis-server (append-only file) because none was configured',
  );
  return child;
};
