/**
 * What bounds one-task HTTP enqueue on this machine. BullMQ's `Queue.add` (50 in flight, from this process, as in
 * `npm run bench`), then the bench's "one per call" load (an undici Pool, 64 connections, one POST /v1/enqueue per
 * call, the same body) sent to
 *   - `node:http`: a bare server that parses the JSON body and answers a small JSON object;
 *   - `fastify`: an empty fastify route doing the same (fastify's JSON parser and serializer);
 *   - `ours`: the API (MODE=api, AUTH_MODE=open as in the bench) on a fresh redis-server with AOF everysec.
 * Alternating runs; prints calls/s, their ratio to Queue.add's, and CPU µs per call of the server, the client (this
 * process) and Redis. An HTTP route that does nothing is the most a one-task HTTP enqueue could reach.
 *
 *   npm run bench:enqueue-hop        (N=30000 calls per run, RUNS=3; ONLY=fastify,ours runs some of them)
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { Pool } from 'undici';
import { freePort, startRedisServer } from '../test/support/redis-server.ts';
import { cpuSeconds, endWhatWeStartOnExit, track, trackServer } from './support.ts';

const KINDS = ['bullmq', 'node:http', 'fastify', 'ours'] as const;
/** ONLY=fastify,ours runs some of them (the ratio needs bullmq). */
const RUN_KINDS = process.env.ONLY ? KINDS.filter((k) => process.env.ONLY?.split(',').includes(k)) : KINDS;
type Kind = (typeof KINDS)[number];
const REPLY = { status: 'enqueued', task_id: '01a21ed9-ba38-754e-9de3-e599fb2fe3fd', queue: 'default' };

// re-run as a child: `node bench/enqueue-hop.ts serve <kind> <port>` serves until killed
if (process.argv[2] === 'serve') {
  const kind = process.argv[3] as Kind;
  const port = Number(process.argv[4]);
  if (kind === 'fastify') {
    const { default: Fastify } = await import('fastify');
    const app = Fastify({ logger: false });
    app.post('/v1/enqueue', async (req) => ({ ...REPLY, client_id: (req.body as { client_id: string }).client_id }));
    await app.listen({ port, host: '127.0.0.1' });
  } else {
    createServer((req, res) => {
      let text = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => {
        text += chunk;
      });
      req.on('end', () => {
        const body = JSON.stringify({ ...REPLY, client_id: JSON.parse(text).client_id });
        res.writeHead(200, { 'content-type': 'application/json' }).end(body);
      });
    }).listen(port, '127.0.0.1');
  }
} else {
  await measure();
}

async function measure() {
  const N = Number(process.env.N ?? 30_000);
  const RUNS = Number(process.env.RUNS ?? 3);
  const IN_FLIGHT = 64;
  endWhatWeStartOnExit();
  const self = fileURLToPath(import.meta.url);
  const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
  // the bench's enqueue body (bench/compare.ts, enqueueItem): nothing listens on port 9, nothing is dispatched
  const body = JSON.stringify({
    client_id: 'bench',
    queue: 'default',
    task: {
      url: 'http://127.0.0.1:9/hook',
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"hello":"world"}',
    },
  });
  const headers = { 'content-type': 'application/json' };
  const ownCpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  };

  /** Sends `n` calls of `send`, `inFlight` at a time. */
  const drive = async (n: number, inFlight: number, send: () => Promise<void>) => {
    let left = n;
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (left-- > 0) await send();
      }),
    );
  };
  type Measured = { perSecond: number; server: number; client: number; redis: number };
  /** Warms up, then times N calls and reads the CPU each process used for them. */
  const timed = async (send: () => Promise<void>, inFlight: number, serverPid?: number, redisPid?: number) => {
    await drive(Math.min(5_000, N), inFlight, send); // connections, JIT
    const cpu0 = { server: cpuSeconds(serverPid), client: ownCpu(), redis: cpuSeconds(redisPid) };
    const started = performance.now();
    await drive(N, inFlight, send);
    const seconds = (performance.now() - started) / 1000;
    const perRequest = (s: number) => (s * 1e6) / N;
    return {
      perSecond: N / seconds,
      server: perRequest(cpuSeconds(serverPid) - cpu0.server),
      client: perRequest(ownCpu() - cpu0.client),
      redis: perRequest(cpuSeconds(redisPid) - cpu0.redis),
    };
  };
  const startRedis = async () =>
    trackServer(await startRedisServer(['--appendonly', 'yes', '--appendfsync', 'everysec']));

  /** BullMQ's Queue.add, 50 calls in flight, as in bench/compare.ts: the figure the 0.5× refers to. */
  const runQueueAdd = async (): Promise<Measured> => {
    const redis = await startRedis();
    const queue = new Queue('bench', {
      connection: { host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null },
    });
    await queue.waitUntilReady();
    const data = { url: 'http://127.0.0.1:9/hook', method: 'POST', headers, body: '{"hello":"world"}' };
    const result = await timed(
      async () => {
        await queue.add('http', data);
      },
      50,
      undefined,
      redis.process.pid,
    );
    await queue.close();
    await redis.stop();
    return result;
  };

  const runHttp = async (kind: Exclude<Kind, 'bullmq'>): Promise<Measured> => {
    const port = await freePort();
    const redis = kind === 'ours' ? await startRedis() : null;
    const server = track(
      kind === 'ours'
        ? spawn(process.execPath, [main], {
            env: {
              ...process.env,
              MODE: 'api',
              PORT: String(port),
              REDIS_URL: redis?.url,
              LOG_LEVEL: 'error',
              AUTH_MODE: 'open',
              ALLOW_PRIVATE_URLS: 'true',
            },
            stdio: ['ignore', 'inherit', 'inherit'],
          })
        : spawn(process.execPath, [self, 'serve', kind, String(port)], { stdio: ['ignore', 'inherit', 'inherit'] }),
    );
    const pool = new Pool(`http://127.0.0.1:${port}`, { connections: IN_FLIGHT });
    const post = async () => {
      const res = await pool.request({ method: 'POST', path: '/v1/enqueue', headers, body });
      const text = await res.body.text();
      if (res.statusCode !== 200) throw new Error(`${kind}: POST /v1/enqueue answered ${res.statusCode}: ${text}`);
    };
    for (let tries = 0; ; tries++) {
      try {
        await post();
        break;
      } catch (err) {
        if (tries > 100) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const result = await timed(post, IN_FLIGHT, server.pid, redis?.process.pid);
    await pool.close();
    server.kill('SIGKILL');
    if (redis) await redis.stop();
    return result;
  };

  const results = new Map<Kind, Measured[]>(KINDS.map((k) => [k, []]));
  for (let run = 1; run <= RUNS; run++) {
    for (const kind of RUN_KINDS) {
      process.stdout.write(`run ${run}/${RUNS} ${kind} … `);
      const r = kind === 'bullmq' ? await runQueueAdd() : await runHttp(kind);
      results.get(kind)?.push(r);
      process.stdout.write(`${Math.round(r.perSecond).toLocaleString('en')} calls/s\n`);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
  const f = (x: number) => Math.round(x).toLocaleString('en');
  const m = (kind: Kind, key: keyof Measured) => median((results.get(kind) ?? []).map((r) => r[key]));
  const label: Record<Kind, string> = {
    bullmq: 'BullMQ Queue.add ×50 (no HTTP)',
    'node:http': 'bare node:http, JSON in and out',
    fastify: 'empty fastify route',
    ours: 'ours: POST /v1/enqueue',
  };
  console.log(`\n${N.toLocaleString('en')} calls per run, medians of ${RUNS}; HTTP: ${IN_FLIGHT} connections\n`);
  console.log('| what | calls/s | ÷ Queue.add | server CPU µs/call | client CPU µs/call | redis-server µs/call |');
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const kind of RUN_KINDS) {
    const server = kind === 'bullmq' ? '–' : f(m(kind, 'server'));
    const redis = kind === 'bullmq' || kind === 'ours' ? f(m(kind, 'redis')) : '–';
    const ratio = RUN_KINDS.includes('bullmq')
      ? `${(m(kind, 'perSecond') / m('bullmq', 'perSecond')).toFixed(2)}×`
      : '–';
    console.log(
      `| ${label[kind]} | ${f(m(kind, 'perSecond'))} | ${ratio} | ${server} | ${f(m(kind, 'client'))} | ${redis} |`,
    );
  }
  process.exit(0);
}
