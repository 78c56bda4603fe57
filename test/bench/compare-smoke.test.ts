import { afterEach, describe, expect, it } from 'vitest';
import { benchRunner } from '../support/bench-run.ts';

const bench = benchRunner();
// a bench cut short (the test timed out) is stopped: on SIGTERM it stops everything it started
afterEach(() => bench.stop());

/** Runs `node bench/compare.ts` in smoke mode; resolves with its exit code and what it printed. */
const runSmoke = () => {
  const env: NodeJS.ProcessEnv = { ...process.env, BENCH_SMOKE: '1' };
  for (const key of ['N', 'ENQUEUE_N', 'RUNS', 'CONCURRENCIES', 'TIMED_CONCURRENCY', 'BATCH', 'SCENARIOS', 'BENCH_OUT'])
    delete env[key];
  return bench.run('compare', env);
};

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
