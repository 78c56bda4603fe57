import { afterEach, describe, expect, it } from 'vitest';
import { benchRunner } from '../support/bench-run.ts';

const bench = benchRunner();
afterEach(() => bench.stop());

describe('bench/enqueue-hop.ts with tiny counts', () => {
  it('measures Queue.add, the bare HTTP hop and our enqueue route, each with a rate and CPU', {
    timeout: 90_000,
  }, async () => {
    const { code, stdout, stderr } = await bench.run('enqueue-hop', { ...process.env, N: '300', RUNS: '1', ONLY: '' });
    const output = `${stdout}\n${stderr}`;
    expect(code, output).toBe(0);
    const rows = stdout
      .split('\n')
      .filter((l) => l.startsWith('| ') && !l.startsWith('| what'))
      .map((l) =>
        l
          .split('|')
          .slice(1, -1)
          .map((c) => c.trim()),
      );
    expect(rows.map((r) => r[0])).toEqual([
      'BullMQ Queue.add ×50 (no HTTP)',
      'bare node:http, JSON in and out',
      'empty fastify route',
      'ours: POST /v1/enqueue',
    ]);
    for (const r of rows) {
      expect(Number((r[1] ?? '').replaceAll(',', '')), r.join(' | ')).toBeGreaterThan(0);
      expect(r[2], r.join(' | ')).toMatch(/^\d+\.\d\d×$/);
    }
    // ours has a server and a Redis figure; BullMQ has Redis but no server process
    const ours = rows[3] ?? [];
    expect(
      [ours[3], ours[5]].every((c) => /^[\d,]+$/.test(c ?? '')),
      ours.join(' | '),
    ).toBe(true);
    expect(rows[0]?.[3]).toBe('–');
  });
});
