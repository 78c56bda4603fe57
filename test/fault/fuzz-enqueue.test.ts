import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { Pool } from 'undici';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { type ChildService, spawnService } from '../support/child-service.ts';
import { mulberry32 } from '../support/given.ts';
import { freePort } from '../support/redis-server.ts';
import { redisUrl, testStore } from '../support/store.ts';

/**
 * T10 of RELIABILITY.md: at least 10,000 malformed enqueue requests against a real API process. Every answer
 * is a 4xx, the process stays up with bounded memory, and nothing is written: the Redis keys of the
 * service's prefix are the same before and after, and the ledger is empty. Memory: RSS may grow by less than
 * 50 MB from the end of the warm-up (a third of the requests) to the end.
 * The seed is printed; FUZZ_SEED=<n> replays a run.
 */
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);
const REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 15_000);
/** V8 grows its heap to a working size over the first few thousand requests (it plateaus near 350 MB RSS). */
const WARM_UP = Math.floor(REQUESTS / 3);
const ADMIN_KEY = 'fuzz-admin-key-0123456789';

let service: ChildService;
let ctx: ReturnType<typeof testStore>;
let base: string;
let port: number;
let apiKey: string;

const rssKb = (pid: number): number => {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  return Number(line?.replace(/\D+/g, '') ?? 0);
};

beforeAll(async () => {
  ctx = testStore();
  port = await freePort();
  base = `http://127.0.0.1:${port}`;
  service = spawnService({
    MODE: 'api',
    PORT: String(port),
    REDIS_URL: redisUrl(),
    REDIS_PREFIX: ctx.prefix,
    AUTH_MODE: 'keys',
    ALLOW_PRIVATE_URLS: 'false',
    ADMIN_API_KEY: ADMIN_KEY,
    // every request the fuzzer sends is refused before the quota is taken; a big one keeps it out of the way
    TIERS: 'fuzz:1000000:10',
    // a capped heap collects garbage instead of growing lazily to its own size, so RSS growth shows a leak
    // (or the process dies of one) instead of V8's appetite
    NODE_OPTIONS: '--max-old-space-size=128',
  });
  await service.waitForLog((l) => l.msg === 'task dispatcher started');
  const created = await fetch(`${base}/admin/clients`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-admin-key': ADMIN_KEY },
    body: JSON.stringify({ client_id: 'fuzz-client', tier: 'fuzz' }),
  });
  expect(created.status).toBeLessThan(300);
  apiKey = ((await created.json()) as { api_key: string }).api_key;
  expect(apiKey).toEqual(expect.any(String));
}, 30_000);

afterAll(async () => {
  if (service && service.process.exitCode === null) {
    service.process.kill('SIGTERM');
    await service.exited;
  }
  await ctx?.close();
});

type Case = Readonly<{ kind: string; path: string; body: string | Buffer; contentType?: string | null }>;

const VALID = () => ({
  client_id: 'fuzz-client',
  queue: 'default',
  delay: 0,
  task: {
    url: 'https://example.com/hook',
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"n":1}',
  },
});
type Body = ReturnType<typeof VALID> & Record<string, unknown>;

const deep = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
/** Stands for 100,000 nested arrays, spliced into the JSON text (too deep to build as a value). */
const DEEP = '@@DEEP@@';

/** Values that are wrong for every field of an enqueue request. */
const WRONG_ANYWHERE: unknown[] = [null, true, [], [1, 2], { a: 1 }, 1e308, -1];

const BAD_VALUES: Record<string, unknown[]> = {
  client_id: ['', 'ab', 'x'.repeat(65), 'bad id', 'ünïcode', 'a\nb', 'a/b', 42, DEEP],
  queue: ['', 'nope', 'DEFAULT', 'default ', 7, DEEP],
  delay: [-1, 1.5, 30 * 24 * 3600 + 1, '10', 1e308, DEEP],
  'task.url': [
    '',
    'example.com/hook',
    '/relative',
    '//example.com/x',
    'file:///etc/passwd',
    'gopher://example.com:70/_x',
    'data:text/plain,hi',
    'javascript:alert(1)',
    'ftp://example.com/x',
    'mailto:a@example.com',
    'http://user:pass@example.com/',
    'https://user@example.com/',
    `https://example.com/${'a'.repeat(2100)}`,
    'http://',
    'http://exa mple.com/',
    'http://127.0.0.1/',
    'http://[::1]/',
    'http://169.254.169.254/latest/meta-data',
    'http://2130706433/',
    'http://0x7f.1/',
    'http://10.0.0.1/',
    12,
    DEEP,
  ],
  'task.method': ['CONNECT', 'TRACE', 'FETCH', '', 'get x', 5, DEEP],
  'task.headers': ['x', 5, ['a', 'b'], DEEP],
  'task.body': [5, { a: 1 }, ['x'], true, DEEP],
};

const BAD_HEADERS: [string, unknown][] = [
  ['x-bad', 'a\r\nInjected: yes'],
  ['x-bad', 'a\nb'],
  ['x-bad', 'a\u0000b'],
  ['x-bad', '\u2028'],
  ['bad name', 'v'],
  ['bad:name', 'v'],
  ['x-crlf\r\nInjected', 'v'],
  ['', 'v'],
  ['Host', 'evil.example'],
  ['Content-Length', '5'],
  ['Transfer-Encoding', 'chunked'],
  ['Connection', 'close'],
  ['X-CloudTasks-TaskName', 'forged'],
  ['x-number', 5],
  ['x-object', { a: 1 }],
  ['x-null', null],
];

const setPath = (body: Body, path: string, value: unknown) => {
  const parts = path.split('.');
  let at = body as Record<string, unknown>;
  for (const p of parts.slice(0, -1)) at = at[p] as Record<string, unknown>;
  at[parts.at(-1) as string] = value;
};

const encode = (body: unknown) => JSON.stringify(body).replace(`"${DEEP}"`, deep(100_000));

/** Each generator returns a request that must be refused whatever the draw. */
const generators: ((r: () => number) => Case)[] = [
  (r) => {
    const fields = Object.keys(BAD_VALUES);
    const field = fields[Math.floor(r() * fields.length)] as string;
    const values = BAD_VALUES[field] as unknown[];
    const body = VALID();
    setPath(body, field, values[Math.floor(r() * values.length)]);
    return { kind: `bad ${field}`, path: '/v1/enqueue', body: encode(body) };
  },
  (r) => {
    const fields = ['client_id', 'task', 'task.url'];
    const body = VALID();
    setPath(body, fields[Math.floor(r() * fields.length)] as string, WRONG_ANYWHERE[Math.floor(r() * 7)]);
    return { kind: 'wrong type', path: '/v1/enqueue', body: encode(body) };
  },
  (r) => {
    const [name, value] = BAD_HEADERS[Math.floor(r() * BAD_HEADERS.length)] as [string, unknown];
    const body = VALID();
    (body.task.headers as Record<string, unknown>)[name] = value;
    return { kind: 'bad task header', path: '/v1/enqueue', body: encode(body) };
  },
  (r) => {
    // written into the text: an object literal cannot carry an own "__proto__" through JSON.stringify
    const field = ['extra', '__proto__', 'constructor', 'name', 'schedule_time'][Math.floor(r() * 5)] as string;
    const text = JSON.stringify(VALID());
    const body = r() < 0.5 ? `{"${field}":1,${text.slice(1)}` : text.replace('"task":{', `"task":{"${field}":1,`);
    return { kind: 'unknown field', path: '/v1/enqueue', body };
  },
  (r) => {
    // a strict prefix of a JSON object is never valid JSON
    const text = JSON.stringify(VALID());
    return {
      kind: 'truncated JSON',
      path: '/v1/enqueue',
      body: text.slice(0, 1 + Math.floor(r() * (text.length - 2))),
    };
  },
  (r) => {
    const text = JSON.stringify(VALID());
    const garbage = ['}', 'x', ',', '{}', ' 1', '\u0000', "'", 'null'][Math.floor(r() * 8)];
    return { kind: 'trailing garbage', path: '/v1/enqueue', body: text + garbage };
  },
  (r) => {
    const bytes = Buffer.alloc(1 + Math.floor(r() * 300));
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(r() * 256);
    bytes[0] = 0xff; // never valid UTF-8, never valid JSON
    return { kind: 'random bytes', path: '/v1/enqueue', body: bytes };
  },
  (r) => {
    const values = ['null', '[]', '"text"', '42', 'true', deep(100_000), '[{"client_id":"fuzz-client"}]', ''];
    return { kind: 'not an object', path: '/v1/enqueue', body: values[Math.floor(r() * values.length)] as string };
  },
  (r) => {
    const types = ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'text/json'];
    return {
      kind: 'wrong content type',
      path: '/v1/enqueue',
      body: JSON.stringify(VALID()),
      contentType: types[Math.floor(r() * types.length)] as string,
    };
  },
  (r) => {
    const envelopes: unknown[] = [
      {},
      { tasks: [] },
      { tasks: 'x' },
      { tasks: {} },
      { tasks: [VALID()], extra: 1 },
      { tasks: Array.from({ length: 1001 }, VALID) },
      [VALID()],
      { tasks: { 0: VALID() } },
    ];
    return {
      kind: 'bad batch envelope',
      path: '/v1/enqueue:batch',
      body: encode(envelopes[Math.floor(r() * envelopes.length)]),
    };
  },
];

/** A well-formed batch of malformed items: 200, every item rejected on its own (the batch contract). */
const badItems = (r: () => number): Case => {
  const items = Array.from({ length: 1 + Math.floor(r() * 20) }, () => {
    const one = generators[Math.floor(r() * 4)] as (r: () => number) => Case; // the JSON-valid generators
    return String(one(r).body);
  });
  return { kind: 'batch of bad items', path: '/v1/enqueue:batch', body: `{"tasks":[${items.join(',')}]}` };
};

/** Rare, expensive cases: bodies far past the limits. */
const HUGE: Case[] = [
  { kind: '10 MB body', path: '/v1/enqueue', body: Buffer.alloc(10 * 1024 * 1024, 'a') },
  {
    kind: '10 MB task body',
    path: '/v1/enqueue',
    body: JSON.stringify({ ...VALID(), task: { ...VALID().task, body: 'a'.repeat(10 * 1024 * 1024) } }),
  },
  {
    kind: '2 MB task body',
    path: '/v1/enqueue',
    body: JSON.stringify({ ...VALID(), task: { ...VALID().task, body: 'a'.repeat(2 * 1024 * 1024) } }),
  },
  { kind: '20 MB batch', path: '/v1/enqueue:batch', body: Buffer.alloc(20 * 1024 * 1024, ' ') },
];

/** Malformed at the HTTP level: sent over a raw socket, answered with a 4xx or a closed connection. */
const RAW: Readonly<{ kind: string; bytes: string; end?: boolean }>[] = (() => {
  const body = JSON.stringify(VALID());
  const head = (extra: string, length = Buffer.byteLength(body)) =>
    `POST /v1/enqueue HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAuthorization: Bearer @KEY@\r\n${extra}Content-Length: ${length}\r\n\r\n`;
  return [
    { kind: 'CR in a header value', bytes: `${head('X-Test: a\rb\r\n')}${body}` },
    { kind: 'LF in a header value', bytes: `${head('X-Test: a\nb\r\n')}${body}` },
    { kind: 'NUL in a header name', bytes: `${head('X-Te\u0000st: a\r\n')}${body}` },
    { kind: 'space before colon', bytes: `${head('X-Test : a\r\n')}${body}` },
    { kind: 'lying Content-Length, short', bytes: `${head('', 10)}${body}` },
    { kind: 'lying Content-Length, long', bytes: `${head('', Buffer.byteLength(body) + 50)}${body}`, end: true },
    { kind: 'two Content-Lengths', bytes: `${head('Content-Length: 3\r\n')}${body}` },
    {
      kind: 'Content-Length and chunked',
      bytes: `${head('Transfer-Encoding: chunked\r\n')}${body}`,
    },
    {
      kind: 'chunked, bad JSON',
      bytes:
        'POST /v1/enqueue HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer @KEY@\r\n' +
        'Transfer-Encoding: chunked\r\n\r\n5\r\n{"cli\r\n0\r\n\r\n',
    },
    {
      kind: 'chunked, bad framing',
      bytes:
        'POST /v1/enqueue HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n',
    },
    { kind: 'header over 80 KB', bytes: `${head(`X-Big: ${'a'.repeat(80 * 1024)}\r\n`)}${body}` },
    { kind: 'bad request line', bytes: 'POST /v1/enqueue HTTP/9.9\r\nHost: x\r\n\r\n' },
    { kind: 'CRLF in Authorization', bytes: `${head('Authorization: Bearer a\r\nb\r\n')}${body}` },
  ];
})();

const sendRaw = (bytes: string, end: boolean) =>
  new Promise<number | 'closed'>((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve('closed');
    }, 3000);
    socket.on('data', (c) => {
      data += c.toString('latin1');
      const status = /^HTTP\/1\.1 (\d{3})/.exec(data);
      if (status) {
        clearTimeout(timer);
        socket.destroy();
        resolve(Number(status[1]));
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve('closed');
    });
    socket.write(bytes, 'latin1');
    if (end) socket.end();
  });

const serviceKeys = async () => {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await ctx.redis.scan(cursor, 'MATCH', `${ctx.prefix}:*`, 'COUNT', 1000);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found.sort();
};

test(`${REQUESTS} malformed requests: only 4xx, the process stays up, nothing written (seed ${SEED})`, async () => {
  console.log(`fuzz seed ${SEED} (FUZZ_SEED=${SEED} replays it)`);
  const random = mulberry32(SEED);
  const cases: Case[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    if (random() < 0.05) cases.push(badItems(random));
    else cases.push((generators[Math.floor(random() * generators.length)] as (r: () => number) => Case)(random));
  }
  const keysBefore = await serviceKeys();
  // memory is compared from after a warm-up, once the heap has grown to its working size: what grows after
  // that is kept per request
  let rssBefore = 0;

  const pool = new Pool(base, { connections: 16, pipelining: 1 });
  const statuses = new Map<string, Map<number, number>>();
  const unexpected: string[] = [];
  const note = (kind: string, status: number, body: Case['body'] = '') => {
    const byKind = statuses.get(kind) ?? new Map<number, number>();
    byKind.set(status, (byKind.get(status) ?? 0) + 1);
    statuses.set(kind, byKind);
    if (status < 400 || status >= 500) unexpected.push(`${kind}: ${status} for ${String(body).slice(0, 300)}`);
  };
  const send = async (c: Case) => {
    const headers: Record<string, string> = { authorization: `Bearer ${apiKey}` };
    if (c.contentType !== null) headers['content-type'] = c.contentType ?? 'application/json';
    try {
      const res = await pool.request({ path: c.path, method: 'POST', headers, body: c.body });
      if (c.kind === 'batch of bad items' && res.statusCode === 200) {
        const { results } = (await res.body.json()) as { results: { status: string }[] };
        const accepted = results.filter((x) => x.status !== 'rejected').length;
        note(c.kind, accepted === 0 ? 400 : 200, c.body);
      } else {
        await res.body.dump();
        note(c.kind, res.statusCode, c.body);
      }
    } catch (err) {
      // the server may close the connection on a body it refuses while it is still being sent
      const code = (err as { code?: string }).code ?? '';
      if (!['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE'].includes(code)) throw err;
      note(c.kind, 413);
    }
  };
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < cases.length) {
        const sent = ++next;
        await send(cases[sent - 1] as Case);
        if (sent === WARM_UP) rssBefore = rssKb(service.pid);
        if (sent % 2500 === 0) console.log(`fuzz: ${sent}/${cases.length} sent, RSS ${rssKb(service.pid)} kB`);
      }
    }),
  );
  console.log(`RSS after the main run: ${rssKb(service.pid)} kB`);
  for (const c of HUGE) await send(c);
  console.log(`RSS after the huge bodies: ${rssKb(service.pid)} kB`);
  for (const r of RAW) {
    const status = await sendRaw(r.bytes.replaceAll('@KEY@', apiKey), r.end ?? false);
    if (status !== 'closed') note(`raw: ${r.kind}`, status);
  }
  await pool.close();

  console.table(
    [...statuses].map(([kind, byStatus]) => ({
      kind,
      ...Object.fromEntries([...byStatus].map(([s, n]) => [String(s), n])),
    })),
  );
  expect(unexpected).toEqual([]);
  const total = [...statuses.values()].reduce((n, m) => n + [...m.values()].reduce((a, b) => a + b, 0), 0);
  expect(total).toBeGreaterThanOrEqual(REQUESTS);

  expect(service.process.exitCode).toBeNull();
  const health = await fetch(`${base}/health`);
  expect(health.status).toBe(200);
  const rssAfter = rssKb(service.pid);
  console.log(`API process RSS: ${rssBefore} kB after the warm-up, ${rssAfter} kB at the end`);
  expect(rssAfter - rssBefore).toBeLessThan(50 * 1024);
  expect(await serviceKeys()).toEqual(keysBefore);
  expect(await ctx.redis.xlen(ctx.keys.events)).toBe(0);
  expect(service.logs.filter((l) => Number(l.level) >= 50)).toEqual([]);
}, 180_000);
