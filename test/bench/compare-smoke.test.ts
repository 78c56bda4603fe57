import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const COMPARE = fileURLToPath(new URL('../../bench/compare.ts', import.meta.url));
let running: ChildProcess | null = null;

// a bench cut short (the test timed out) is stopped: on SIGTERM it stops everything it started
afterEach(() => {
  if (running && running.exitCode === null && running.signalCode === null) running.kill('SIGTERM');
  running = null;
});

/** Runs `node bench/compare.ts` in smoke mode; resolves with its exit code and what it printed. */
const runSmoke = (): Promise<{ code: number | null; stdout: string; stderr: string }> =>
  new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, BENCH_SMOKE: '1' };
    for (const key of [
      'N',
      'ENQUEUE_N',
      'RUNS',
      'CONCURRENCIES',
      'TIMED_CONCURRENCY',
      'BATCH',
      'SCENARIOS',
      'BENCH_OUT',
    ])
      delete env[key];
    const child = spawn(process.execPath, [COMPARE], { env, stdio: ['ignore', 'pipe', 'pipe'] });
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

/** The table's rows: scenario, metric, ours, BullMQ, ratio. */
const tableRows = (stdout: string) =>
  stdout
    .split('\n')
    .filter((l) => /^\| \d /.test(l))
    .map((l) =>
      l
        .split('|')
        .slice(1, -1)
        .map((c) => c.trim()),
    );

const isNumber = (cell: string | undefined) => cell !== undefined && /^-?[\d,]+(\.\d+)?$/.test(cell);

describe('bench/compare.ts in smoke mode', () => {
  it('runs every scenario against both systems and prints the table', { timeout: 120_000 }, async () => {
    const { code, stdout, stderr } = await runSmoke();
    expect(code, `stdout:\n${stdout}\nstderr:\n${stderr}`).toBe(0);
    const rows = tableRows(stdout);
    for (const scenario of ['1 enqueue', '2 dispatch', '3 memory', '4 CPU', '5 latency', '6 delay accuracy']) {
      const measured = rows.filter((r) => r[0] === scenario && isNumber(r[2]) && isNumber(r[3]));
      expect(measured.length, `a row for ${scenario} with numbers for ours and BullMQ in:\n${stdout}`).toBeGreaterThan(
        0,
      );
    }
    // p50 and p99 for each system: latency, then lateness for the burst and for the spread schedule
    for (const [scenario, count] of [
      ['5 latency', 2],
      ['6 delay accuracy', 4],
    ] as const) {
      const rowsOf = rows.filter((r) => r[0] === scenario);
      expect(rowsOf.length, stdout).toBe(count);
      for (const r of rowsOf) expect([r[2], r[3]].every(isNumber), `${r.join(' | ')} in:\n${stdout}`).toBe(true);
    }
    // smoke mode prints only
    expect(stdout).not.toContain('wrote BENCHMARKS.md');
  });
});
