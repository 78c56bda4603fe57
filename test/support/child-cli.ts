import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));

export type LogLine = Readonly<{ line: Record<string, unknown>; at: number }>;

export type ChildCli = Readonly<{
  process: ChildProcess;
  pid: number;
  /** Every stdout line (JSON log lines parsed, others as { msg }), with the time it was received. */
  logs: LogLine[];
  stdout: () => string;
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
    // vitest sets MODE=test, which the service's config (and so the CLI's) refuses
    env: { ...process.env, MODE: 'worker', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: LogLine[] = [];
  let buffer = '';
  let stdout = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
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
    stdout: () => stdout,
    stderr: () => stderr,
    alive: () => child.exitCode === null && child.signalCode === null,
    exited,
  };
};

/** Runs `node src/cli.ts <args>` to its end; resolves with its exit code and output (LOG_LEVEL warn unless set). */
export const runCli = async (args: readonly string[], env: Record<string, string>, timeoutMs = 30_000) => {
  const cli = spawnCli(args, { LOG_LEVEL: 'warn', ...env });
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      cli.process.kill('SIGKILL');
      reject(
        new Error(`cli ${args.join(' ')} did not finish within ${timeoutMs} ms; stderr: ${cli.stderr().slice(-2000)}`),
      );
    }, timeoutMs);
  });
  try {
    const { code } = await Promise.race([cli.exited, timedOut]);
    return { code, stdout: cli.stdout(), stderr: cli.stderr() };
  } finally {
    clearTimeout(timer);
  }
};
