/**
 * A minimal HTTP target for benchmarks, in its own process so that the load generator's event loop does
 * not delay it. Answers 200 to everything; for requests to /due carrying X-CloudTasks-TaskETA it records how
 * late the request arrived. For requests to /timed, whose body is an instant in ms since the epoch (when the
 * task was enqueued, or when it was due), it records arrival − that instant, whichever system sent it.
 * GET /stats returns both recorded lists (ms; `lateness` and `timed`) and clears them.
 * GET /count returns how many other requests arrived, and when the first and the last did (ms since epoch).
 * Every other request is only counted and its body drained unread.
 */
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';

const lateness: number[] = [];
const timed: number[] = [];
const trace: [number, number][] = [];
const deliveries = { count: 0, first: 0, last: 0 };
process.on('exit', () => {
  if (process.env.SINK_TRACE) writeFileSync(process.env.SINK_TRACE, JSON.stringify(trace));
});
const server = createServer((req, res) => {
  const arrived = Date.now();
  if (req.url === '/stats') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ lateness: lateness.splice(0), timed: timed.splice(0) }));
    return;
  }
  if (req.url === '/count') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(deliveries));
    return;
  }
  deliveries.count++;
  if (deliveries.first === 0) deliveries.first = arrived;
  deliveries.last = arrived;
  if (req.url === '/timed') {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      text += chunk;
    });
    req.on('end', () => {
      timed.push(arrived - Number(text));
      res.end();
    });
    return;
  }
  const eta = req.headers['x-cloudtasks-tasketa'];
  if (typeof eta === 'string' && req.url === '/due') {
    lateness.push(arrived - Number(eta) * 1000);
    if (process.env.SINK_TRACE) trace.push([Number(eta) * 1000, arrived]);
  }
  req.resume();
  req.on('end', () => res.end());
});
server.keepAliveTimeout = 30_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`${JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
