/** What every benchmark needs: CPU time from /proc, and the rule that whatever it started ends with it. */
import type { ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import type { RedisServer } from '../test/support/redis-server.ts';

const children = new Set<ChildProcess>();
const servers = new Set<RedisServer>();

/**
 * Kills every tracked process and redis-server when this process exits, for whatever reason (killing one
 * that already stopped is harmless).
 */
export const endWhatWeStartOnExit = (): void => {
  process.on('exit', () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    for (const server of servers) {
      server.process.kill('SIGKILL');
      rmSync(server.dir, { recursive: true, force: true });
    }
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      console.error(`\n${signal}: stopping the bench and everything it started`);
      process.exit(130);
    });
  }
  process.on('uncaughtException', (err) => {
    console.error(err);
    process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    console.error(err);
    process.exit(1);
  });
};

export const track = <C extends ChildProcess>(child: C): C => {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
};

export const trackServer = (server: RedisServer): RedisServer => {
  servers.add(server);
  return server;
};

/** CPU seconds (user + system) a process has used; with `children`, also its reaped children's. */
export const cpuSeconds = (pid: number | undefined, withChildren = false): number => {
  if (pid === undefined) return Number.NaN;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
  // fields from the state on: utime is field 14 of the file, index 11 here; cutime, cstime follow stime
  const own = Number(fields[11]) + Number(fields[12]);
  const reaped = withChildren ? Number(fields[13]) + Number(fields[14]) : 0;
  return (own + reaped) / 100;
};
