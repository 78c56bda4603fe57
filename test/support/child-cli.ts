import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));

export type LogLine = Readonly<{ line: Record<string, unknown>; at: number }>;

export type ChildCli = Readonly<{
  process: ChildProcess;
  pid: number;
  /** Every stdout line (JSON log lines parsed, others as { msg }), with the time it was received. */
  logs: LogLine[];
  stderr: () => string;
  alive: () => boolean;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}>;

/**
 * Runs `node src/cli.ts <args>` as its own process, as an operator would, so that a test can signal or kill it by
 * its pid. MODE is set to a value the config accepts (vitest sets MODE=test).
 */
export const spawnCli = (args: readonly string[], env: Record<string, string>): ChildCli => {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, MODE: 'worker', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: LogLine[] = [];
  let buffer = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    const lines = buffer.split('\n');
    buffer = lines.pop() ?? '';
    const at = Date.now();
    for (const line of lines) {
      try {
        logs.push({ line: JSON.parse(line), at });
      } catch {
        logs.push({ line: { msg: line }, at });
      }
    }
  });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    process: child,
    pid: child.pid ?? 0,
    logs,
    stderr: () => stderr,
    alive: () => child.exitCode === null && child.signalCode === null,
    exited,
  };
};
