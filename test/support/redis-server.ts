import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });

export type RedisServer = Readonly<{
  url: string;
  port: number;
  process: ChildProcess;
  /** The server's working directory (a temporary one), removed by `stop`. */
  dir: string;
  stop: () => Promise<void>;
}>;

/** Starts a throw-away redis-server on a free loopback port, for tests that must own (or kill) their Redis. */
export const startRedisServer = async (extraArgs: readonly string[] = []): Promise<RedisServer> => {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'td-redis-'));
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...extraArgs],
    { stdio: 'ignore' },
  );
  const url = `redis://127.0.0.1:${port}`;
  const at = extraArgs.indexOf('--requirepass');
  const password = at >= 0 ? extraArgs[at + 1] : undefined;
  const probe = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    ...(password ? { password } : {}),
  });
  probe.on('error', () => {});
  for (let i = 0; ; i++) {
    try {
      await probe.connect();
      await probe.ping();
      break;
    } catch (err) {
      if (i > 100) throw new Error(`redis-server on port ${port} did not start: ${String(err)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  probe.disconnect();
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  return { url, port, process: child, dir, stop };
};
