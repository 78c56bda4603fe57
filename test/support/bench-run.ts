import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export type BenchOutcome = Readonly<{ code: number | null; stdout: string; stderr: string }>;

/**
 * Runs bench scripts (`bench/<name>.ts`) to their end as processes of their own. `stop` ends one still running
 * (a test that timed out): on SIGTERM a bench stops everything it started (bench/support.ts).
 */
export const benchRunner = () => {
  let running: ChildProcess | null = null;
  const run = (name: string, env: NodeJS.ProcessEnv): Promise<BenchOutcome> =>
    new Promise((resolve, reject) => {
      const script = fileURLToPath(new URL(`../../bench/${name}.ts`, import.meta.url));
      const child = spawn(process.execPath, [script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      running = child;
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => {
        stdout += c.toString();
      });
      child.stderr.on('data', (c: Buffer) => {
        stderr += c.toString();
      });
      child.once('error', reject);
      child.once('exit', (code) => resolve({ code, stdout, stderr }));
    });
  const stop = () => {
    if (running && running.exitCode === null && running.signalCode === null) running.kill('SIGTERM');
    running = null;
  };
  return { run, stop };
};
