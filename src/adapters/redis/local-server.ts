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
export const ensureLocalRedis = async (
  dataDir: string,
  log: Logger,
  { port = 6379, binary = 'redis-server' } = {},
): Promise<ChildProcess | null> => {
  if (await answers('127.0.0.1', port)) return null;
  if (spawnSync(binary, ['--version']).error) {
    throw new Error(
      `no Redis answers on 127.0.0.1:${port} and no ${binary} binary was found: install one ` +
        '(apt-get install redis-server, brew install redis) or set REDIS_URL to a Redis you run',
    );
  }
  const dir = resolve(dataDir);
  mkdirSync(dir, { recursive: true });
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir];
  const child = spawn(binary, [...args, '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', ''], {
    stdio: 'ignore',
  });
  const exited = new Promise<false>((r) => child.once('exit', () => r(false)));
  if (!(await Promise.race([waitFor('127.0.0.1', port, 5000), exited]))) {
    child.kill();
    throw new Error(`started ${binary} in ${dir} but it did not answer on 127.0.0.1:${port} within 5 s`);
  }
  log.info(
    { pid: child.pid, dir, port },
    'started a local redis-server (append-only file) because none was configured',
  );
  return child;
};
