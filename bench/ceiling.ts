/**
 * The ceiling for dispatch on this machine: how many POSTs an undici client alone gets through to bench/sink.ts,
 * with nothing else running (no Redis, no queue). `node bench/ceiling.ts` (N=50000 per run, 3 runs per concurrency).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { endWhatWeStartOnExit, track } from './support.ts';

const N = Number(process.env.N ?? 50_000);
endWhatWeStartOnExit();
const sinkPath = fileURLToPath(new URL('./sink.ts', import.meta.url));
const sink = track(spawn(process.execPath, [sinkPath], { stdio: ['ignore', 'pipe', 'inherit'] }));
const port = await new Promise<number>((resolve) =>
  sink.stdout?.once('data', (d) => resolve(JSON.parse(String(d)).port)),
);
// the worker's settings (src/adapters/http/dispatcher.ts), without the SSRF guard
const agent = new Agent({ connections: null, keepAliveTimeout: 10_000, headersTimeout: 0, bodyTimeout: 0 });
const url = `http://127.0.0.1:${port}/hook`;
const post = async () => {
  const res = await request(url, {
    dispatcher: agent,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"hello":"world"}',
  });
  await res.body.dump();
};
const run = async (n: number, concurrency: number) => {
  let left = n;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (left-- > 0) await post();
    }),
  );
  return n / ((performance.now() - started) / 1000);
};
await run(5_000, 50);
for (const concurrency of [50, 200]) {
  const rates: number[] = [];
  for (let i = 0; i < 3; i++) rates.push(await run(N, concurrency));
  console.log(
    `concurrency ${concurrency}: ${rates.map((r) => Math.round(r).toLocaleString('en')).join(' / ')} requests/s`,
  );
}
sink.kill();
await agent.close();
process.exit(0);
